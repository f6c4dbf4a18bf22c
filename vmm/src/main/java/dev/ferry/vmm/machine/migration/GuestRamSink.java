package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.ram.PageSink;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.memory.RamRange;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
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
    /** One past the highest RAM-file page written so far (RamPrefault skips what lies below). */
    private final AtomicLong frontier = new AtomicLong();

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
        RamRange range = layout.rangeOf(gpa, pages.remaining());
        if (range == null) {
            // Consecutive addresses across two RAM ranges: page by page.
            PageSink.super.writeRun(gpa, pages);
            return;
        }
        ram.store(gpa, pages);
        long fileEnd = (range.fileOffset() + gpa - range.guestPhysicalAddress() + pages.remaining()) / PAGE;
        if (fileEnd > frontier.get()) {
            frontier.accumulateAndGet(fileEnd, Math::max);
        }
        // Mark the run in the written bitmap a word at a time.
        long first = gpa / PAGE;
        long end = first + pages.remaining() / PAGE;
        for (long p = first; p < end; ) {
            int word = (int) (p >>> 6);
            long stop = Math.min(end, ((long) word + 1) << 6);
            int bits = (int) (stop - p);
            long mask = (bits == 64 ? -1L : (1L << bits) - 1) << (p & 63);
            if ((written.get(word) & mask) != mask) {
                written.getAndAccumulate(word, mask, (x, m) -> x | m);
            }
            p = stop;
        }
    }

    /** One past the highest page of the RAM file written so far. */
    long frontierPage() {
        return frontier.get();
    }

    @Override
    public void zero(long gpa) {
        long p = gpa / PAGE;
        if ((written.get((int) (p >>> 6)) & (1L << p)) != 0) {
            ram.zero(gpa, PAGE);
        }
    }
}
