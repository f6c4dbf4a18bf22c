package dev.ferry.vmm.machine.migration;

import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Runs go through the RAM file; a zero marker clears a page written earlier, wherever it lies in a run. */
class GuestRamSinkTest {

    private static final int PAGE = (int) MemoryLayout.PAGE_SIZE;

    @Test
    void aRunAcrossBitmapWordsIsWrittenAndEachOfItsPagesCanBeZeroedAgain() {
        try (GuestRam ram = GuestRam.create(new MemoryLayout(16L << 20), "sink-test")) {
            GuestRamSink sink = new GuestRamSink(ram);
            int pages = 70;                               // pages 60..129: three bitmap words
            ByteBuffer run = ByteBuffer.allocateDirect(pages * PAGE).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < pages; i++) {
                run.putLong(i * PAGE, 0x1000 + i);
            }
            long base = 60L * PAGE;
            sink.writeRun(base, run);
            for (int i = 0; i < pages; i++) {
                assertEquals(0x1000 + i, ram.readLong(base + (long) i * PAGE), "page " + i);
            }
            for (int i : new int[] {0, 3, 4, 67, 69}) {
                sink.zero(base + (long) i * PAGE);
                assertEquals(0, ram.readLong(base + (long) i * PAGE), "page " + i + " zeroed");
            }
            assertEquals(0x1000 + 5, ram.readLong(base + 5L * PAGE), "its neighbours untouched");
        }
    }
}
