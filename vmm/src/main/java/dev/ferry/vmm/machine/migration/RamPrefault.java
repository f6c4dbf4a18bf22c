package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.ram.PageExtents;
import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.os.Threads;

/**
 * Allocates a target's guest RAM for the pages the source's first pass will send (its
 * RAM_EXTENTS), on a thread of its own, ahead of the stream: the receiving thread then writes
 * into memory that exists instead of allocating every page itself, which is half of its time on
 * a fresh file and more where page allocation is slow (docs/migration.md, "Memory the target
 * allocates ahead").
 *
 * <p>The thread runs in SCHED_IDLE, so it only ever uses a core that nothing else of the
 * migration wants; it stays {@link #LEAD_PAGES} ahead of what the stream has reached (the sink's
 * frontier), allocates in small chunks (the mapping's lock is held for one chunk at a time), and stops at the first
 * failure (it is an optimisation: the stream allocates whatever it did not), at the switchover
 * and at the end of the migration.
 */
final class RamPrefault implements AutoCloseable {

    /** 128 pages: about 0.1 ms of allocation per madvise call. */
    static final long CHUNK_PAGES = 128;
    /** How far ahead of the stream's frontier it allocates (16 MiB: a few ms of the stream). */
    static final long LEAD_PAGES = 4096;
    private static final long PAGE = MemoryLayout.PAGE_SIZE;

    private final GuestRam ram;
    private final PageExtents extents;
    private final GuestRamSink sink;
    private final Thread thread;
    private volatile boolean stopped;
    private volatile long allocatedPages;

    private RamPrefault(GuestRam ram, PageExtents extents, GuestRamSink sink) {
        this.ram = ram;
        this.extents = extents;
        this.sink = sink;
        this.thread = new Thread(this::run, "migration-prefault");
        thread.setDaemon(true);
    }

    /** Starts allocating {@code extents} of {@code ram}, ahead of what {@code sink} receives. */
    static RamPrefault start(GuestRam ram, PageExtents extents, GuestRamSink sink) {
        RamPrefault p = new RamPrefault(ram, extents, sink);
        p.thread.start();
        return p;
    }

    private void run() {
        Threads.setPolicy(Threads.SCHED_IDLE);
        try {
            for (int i = 0; i < extents.count() && !stopped; i++) {
                long page = extents.first(i);
                long end = page + extents.pages(i);
                while (!stopped) {
                    long frontier = sink.frontierPage();
                    if (frontier > 0 && page < frontier + LEAD_PAGES) {
                        // Caught up (or never ahead): allocating right where the stream writes
                        // only fights it for the same pages' locks (8 GiB idle: 23 s instead of
                        // 20 without this thread, 14.6 s with the lead). Go well ahead of it.
                        page = frontier + LEAD_PAGES;
                    }
                    if (page >= end) {
                        break;
                    }
                    long n = Math.min(end - page, CHUNK_PAGES);
                    if (!ram.populate(page * PAGE, n * PAGE)) {
                        Log.debug("incoming: this kernel cannot populate memory ahead (MADV_POPULATE_WRITE)");
                        return;
                    }
                    allocatedPages += n;
                    page += n;
                }
            }
        } catch (RuntimeException e) {
            Log.debug("incoming: allocating RAM ahead stopped: " + e.getMessage());
        }
    }

    /** Pages this allocated so far (the stream allocated the rest of what it wrote). */
    long allocatedPages() {
        return allocatedPages;
    }

    /** Stops the thread and waits for it: it finishes at most one chunk. */
    @Override
    public void close() {
        stopped = true;
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
