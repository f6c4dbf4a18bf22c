package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.ram.PageSink;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Received pages into guest RAM on the target. Runs of pages go through the RAM file
 * ({@link GuestRam#store}): no zeroing of new pages, no page faults. RAM starts cleared, so a
 * zero marker needs work only for a page written earlier in the same migration; the sink keeps
 * a bitmap of those. Safe for several receiving threads (multifd).
 */
final class GuestRamSink implements PageSink {

    private static final long PAGE = MemoryLayout.PAGE_SIZE;

    private final GuestRam ram;
    private final MemoryLayout layout;
    private final AtomicLongArray written;

    /** A sink over {@code ram}, whose contents the caller has just discarded. */
    GuestRamSink(GuestRam ram) {
        this.ram = ram;
        this.layout = ram.layout();
        this.written = new AtomicLongArray((int) ((layout.ramEnd() / PAGE + 63) / 64));
    }

    @Override
    public boolean isRam(long gpa) {
        return layout.rangeOf(gpa, PAGE) != null;
    }

    @Override
    public void write(long gpa, ByteBuffer page) {
        writeRun(gpa, page);
    }

    @Override
    public void writeRun(long gpa, ByteBuffer pages) {
        if (layout.rangeOf(gpa, pages.remaining()) == null) {
            // Consecutive addresses across two RAM ranges: page by page.
            PageSink.super.writeRun(gpa, pages);
            return;
        }
        ram.store(gpa, pages);
        for (long p = gpa / PAGE, end = p + pages.remaining() / PAGE; p < end; p++) {
            long bit = 1L << p;
            int word = (int) (p >>> 6);
            if ((written.get(word) & bit) == 0) {
                written.getAndUpdate(word, x -> x | bit);
            }
        }
    }

    @Override
    public void zero(long gpa) {
        long p = gpa / PAGE;
        if ((written.get((int) (p >>> 6)) & (1L << p)) != 0) {
            ram.zero(gpa, PAGE);
        }
    }
}
