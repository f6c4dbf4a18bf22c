package dev.ferry.vmm.tuning;

import dev.ferry.vmm.log.Log;

import java.util.ArrayList;
import java.util.List;

/**
 * Debug stamps for a stretch where writing a log line would distort what it measures (a
 * migration's downtime: a line written to a file can block for milliseconds behind writeback).
 * Stamps are kept in memory and written by {@link #print()} afterwards, each with its own
 * CLOCK_MONOTONIC time as {@link Log#debug} shows it, so source and target lines still merge
 * into one timeline. Does nothing unless debug output is on.
 */
public final class DebugTimeline {
    private final String prefix;
    private final long startNanos;
    private final List<Object[]> marks = new ArrayList<>();

    /** A timeline whose stamps also show the time since now. */
    public DebugTimeline(String prefix) {
        this(prefix, System.nanoTime());
    }

    /** A timeline whose stamps also show the time since {@code startNanos} (System.nanoTime()). */
    public DebugTimeline(String prefix, long startNanos) {
        this.prefix = prefix;
        this.startNanos = startNanos;
    }

    /** Records that {@code what} happened now (any thread). */
    public void mark(String what) {
        if (Log.debugEnabled()) {
            markAt(System.nanoTime(), what);
        }
    }

    /** Records that {@code what} happened at {@code nanoTime} (System.nanoTime(); any thread). */
    public void markAt(long nanoTime, String what) {
        if (Log.debugEnabled()) {
            synchronized (marks) {
                marks.add(new Object[] {nanoTime, what});
            }
        }
    }

    /** Writes the stamps recorded so far and forgets them. */
    public void print() {
        List<Object[]> copy;
        synchronized (marks) {
            copy = new ArrayList<>(marks);
            marks.clear();
        }
        for (Object[] m : copy) {
            long at = (Long) m[0];
            Log.debugAt(at, prefix + m[1] + " (+" + (at - startNanos) / 1000 + " us)");
        }
    }
}
