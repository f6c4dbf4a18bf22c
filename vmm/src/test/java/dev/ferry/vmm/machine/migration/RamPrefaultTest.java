package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.ram.PageExtents;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The target allocates the pages RAM_EXTENTS names, and only those, on its own thread; it skips
 * what the stream has already written and changes no byte of it.
 */
class RamPrefaultTest {

    private static final int PAGE = (int) MemoryLayout.PAGE_SIZE;

    private static PageExtents extents(long pages, long... firstAndCount) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(4 + firstAndCount.length * 8).putInt(firstAndCount.length / 2);
        for (long v : firstAndCount) {
            b.putLong(v);
        }
        return PageExtents.decode(b.flip(), pages, 0);
    }

    /** Allocated pages of the RAM file (SEEK_DATA), as "first+count" runs. */
    private static String allocated(GuestRam ram) {
        long[] bits = ram.memfd().dataPages(PAGE);
        StringBuilder s = new StringBuilder();
        long pages = ram.layout().ramSize() / PAGE;
        for (long p = 0; p < pages; p++) {
            if ((bits[(int) (p >>> 6)] & (1L << p)) != 0) {
                long first = p;
                while (p + 1 < pages && (bits[(int) ((p + 1) >>> 6)] & (1L << (p + 1))) != 0) {
                    p++;
                }
                s.append(s.length() == 0 ? "" : " ").append(first).append('+').append(p - first + 1);
            }
        }
        return s.toString();
    }

    private static void awaitAllocated(RamPrefault p, long pages) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (p.allocatedPages() < pages && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
    }

    @Test
    void allocatesExactlyTheNamedExtentsAndLeavesThemZero() throws Exception {
        try (GuestRam ram = GuestRam.create(new MemoryLayout(16L << 20), "prefault-test")) {
            RamPrefault p = RamPrefault.start(ram, extents(4096, 100, 200, 1000, 1, 4000, 96), new GuestRamSink(ram));
            awaitAllocated(p, 297);
            p.close();
            assertEquals(297, p.allocatedPages());
            assertEquals("100+200 1000+1 4000+96", allocated(ram));
            assertEquals(0, ram.readLong(150L * PAGE));
        }
    }

    @Test
    void staysAheadOfWhatTheStreamHasWrittenAndKeepsItsBytes() throws Exception {
        try (GuestRam ram = GuestRam.create(new MemoryLayout(64L << 20), "prefault-test")) {
            GuestRamSink sink = new GuestRamSink(ram);
            ByteBuffer written = ByteBuffer.allocateDirect(151 * PAGE).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 151; i++) {
                written.putLong(i * PAGE, 0x5000 + i);
            }
            sink.writeRun(0, written);                    // pages 0..150: the frontier is 151
            RamPrefault p = RamPrefault.start(ram, extents(16384, 100, 9900), sink);
            long ahead = 151 + RamPrefault.LEAD_PAGES;
            awaitAllocated(p, 10000 - ahead);
            p.close();
            assertEquals(10000 - ahead, p.allocatedPages(), "from the frontier plus the lead to the extent's end");
            assertEquals("0+151 " + ahead + "+" + (10000 - ahead), allocated(ram));
            assertEquals(0x5000 + 120, ram.readLong(120L * PAGE), "a page the stream wrote is unchanged");
        }
    }

    @Test
    void closingStopsItPartWay() throws Exception {
        try (GuestRam ram = GuestRam.create(new MemoryLayout(64L << 20), "prefault-test")) {
            RamPrefault p = RamPrefault.start(ram, extents(16384, 0, 16384), new GuestRamSink(ram));
            p.close();
            long done = p.allocatedPages();
            Thread.sleep(20);
            assertEquals(done, p.allocatedPages(), "nothing is allocated after close");
        }
    }
}
