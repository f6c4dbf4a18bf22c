package dev.ferry.vmm.machine.migration;

import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The engine reads every page through a shared block and an offset: in a guest above 4 GiB
 * (RAM split around the PCI hole, the RAM file in four 1 GiB blocks) each page's block and
 * offset must reach the bytes at the page's guest-physical address. The memfd is sparse: the
 * untouched 4 GiB cost nothing.
 */
class RamPagesTest {

    private static final long PAGE = MemoryLayout.PAGE_SIZE;

    @Test
    void everyPageIsReachedThroughItsBlockAndOffsetAcrossBlocksAndThePciHole() {
        try (GuestRam ram = GuestRam.create(new MemoryLayout(4L << 30), "ram-pages-test")) {
            RamPages pages = new RamPages(ram);
            long lastLow = 0xC000_0000L / PAGE - 1;
            long[] indices = {0, (1L << 30) / PAGE - 1, (1L << 30) / PAGE, lastLow, lastLow + 1, pages.pageCount() - 1};
            for (long i : indices) {
                ram.writeLong(pages.address(i) + 8, 0xABCD_0000L + i);
            }
            assertEquals(0x1_0000_0000L, pages.address(lastLow + 1), "the first page above the hole");
            for (long i : indices) {
                ByteBuffer block = pages.block(i);
                assertEquals(0xABCD_0000L + i, block.getLong(pages.offsetInBlock(i) + 8), "page " + i);
                assertEquals(0xABCD_0000L + i, pages.page(i).getLong(8), "page " + i + " as a view");
                assertEquals(0, block.position(), "a shared block is used with absolute offsets only");
            }
            assertSame(pages.block(0), pages.block((1L << 30) / PAGE - 1), "one buffer per 1 GiB, no object per page");
            assertThrows(IndexOutOfBoundsException.class, () -> ram.blockAt(4L << 30));
        }
    }
}
