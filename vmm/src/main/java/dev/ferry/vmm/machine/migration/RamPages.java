package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.ram.GuestPages;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.memory.RamRange;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Guest RAM numbered as the migration engine wants it: page i of the RAM file (slot order, the
 * low range first, then RAM above 4 GiB), with its guest-physical address. Page views are slices
 * of the guest mapping, so pages go to the socket without a copy through the heap, and the
 * engine reads them through a few shared 1 GiB buffers, without an object per page.
 */
public final class RamPages implements GuestPages {

    private static final long PAGE = MemoryLayout.PAGE_SIZE;

    private final GuestRam ram;
    private final List<RamRange> ranges;
    private final long pages;

    public RamPages(GuestRam ram) {
        this.ram = ram;
        this.ranges = ram.layout().ranges();
        this.pages = ram.layout().ramSize() / PAGE;
    }

    @Override
    public long pageCount() {
        return pages;
    }

    /** The range holding file page {@code index}. */
    private RamRange rangeOf(long index) {
        long offset = index * PAGE;
        for (RamRange r : ranges) {
            if (offset >= r.fileOffset() && offset < r.fileOffset() + r.size()) {
                return r;
            }
        }
        throw new IndexOutOfBoundsException("page " + index + " beyond " + pages);
    }

    @Override
    public long address(long index) {
        RamRange r = rangeOf(index);
        return r.guestPhysicalAddress() + (index * PAGE - r.fileOffset());
    }

    /** File page i is RAM page i (the ranges lie back to back in the memfd). */
    @Override
    public long[] populated() {
        return ram.memfd().dataPages((int) PAGE);
    }

    @Override
    public ByteBuffer block(long index) {
        return ram.blockAt(index * PAGE);
    }

    @Override
    public int offsetInBlock(long index) {
        return (int) ((index * PAGE) & (GuestRam.BLOCK_SIZE - 1));
    }
}
