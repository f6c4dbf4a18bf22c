package dev.ferry.vmm.tuning;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryUsage;

/**
 * Keeps young collections out of a switchover. A young collection stops every Java thread of
 * the VMM (1-3 ms here: serial collector, the launcher's 16 MiB young generation), and one that
 * falls between the guest's stop and its start on the target is in the pause. A migration
 * allocates little now (a few MB per GiB), but the young generation is at some random fill
 * level when it starts, so the collection that comes sooner or later fell into the switchover
 * in 3 of 6 debug runs (4 GiB idle, `-Xlog:safepoint`: pauses of 4-7 ms instead of 1.5-2).
 *
 * <p>So each side starts a migration with half its eden free, and checks at each pass and
 * just before the switchover, while the guest still runs, that it has room for what the
 * switchover allocates; if not, it makes HotSpot collect now, by filling the rest of the eden:
 * Java has no call for a young collection ({@link System#gc()} is a full one), and an
 * allocation that does not fit is what starts one. The last check is a guard only: a
 * collection just before the stop still cost the pause ~1 ms (caches, the other side's
 * threads catching up), so the earlier ones are what keeps it away.
 */
public final class EdenHeadroom {
    private EdenHeadroom() {}

    /**
     * Free young-generation space a switchover needs: the source allocates ~1 MB between the
     * stop and END (dirty log, vCPU and device records), the target less; with a margin.
     */
    public static final long SWITCHOVER_BYTES = 4L << 20;
    private static final int FILL_CHUNK = 64 * 1024;

    /** Where the filling goes: a field, so the compiler cannot drop the allocations. */
    @SuppressWarnings("unused")
    private static volatile byte[] filler;

    private static final MemoryPoolMXBean EDEN = eden();

    private static MemoryPoolMXBean eden() {
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getName().contains("Eden")) {     // "Eden Space" (serial), "G1 Eden Space", ...
                return p;
            }
        }
        return null;                                // a collector without one (ZGC, Shenandoah)
    }

    /**
     * At a migration's start: half the eden free, with a collection now if not (it costs setup
     * time, not downtime). A migration then usually ends without any collection: a 4 GiB
     * guest's allocates ~3 MB on the source, ~2 MB on the target (JFR allocation samples).
     */
    public static boolean makeRoomForMigration() {
        return EDEN != null && makeRoom(EDEN.getUsage().getCommitted() / 2);
    }

    /** Free bytes in the young generation's eden now; Long.MAX_VALUE if unknown. */
    public static long freeBytes() {
        if (EDEN == null) {
            return Long.MAX_VALUE;
        }
        // Committed, not max: a collection comes when the eden as it is now is full.
        MemoryUsage u = EDEN.getUsage();
        return Math.max(0, u.getCommitted() - u.getUsed());
    }

    /** Collections of any kind so far (a young one that turns into a full one counts too). */
    private static long collections() {
        long n = 0;
        for (GarbageCollectorMXBean c : ManagementFactory.getGarbageCollectorMXBeans()) {
            n += Math.max(0, c.getCollectionCount());
        }
        return n;
    }

    /**
     * Makes sure the eden has at least {@code bytes} free (at most half of it), with a young
     * collection now if it has not. Returns true if it collected. Bounded: it allocates at most
     * the eden's size plus one chunk (a collector that does not collect on a full eden is left
     * alone).
     */
    public static boolean makeRoom(long bytes) {
        if (EDEN == null) {
            return false;
        }
        long committed = EDEN.getUsage().getCommitted();
        // An eden too small for the request is asked for half of itself: else every call
        // would collect, the one just before the stop included.
        long wanted = Math.min(bytes, committed / 2);
        if (freeBytes() >= wanted) {
            return false;
        }
        long before = collections();
        long budget = committed + FILL_CHUNK;
        for (long filled = 0; filled <= budget; filled += FILL_CHUNK) {
            filler = new byte[FILL_CHUNK];
            if (collections() != before) {
                filler = null;
                return true;
            }
        }
        filler = null;
        return false;
    }
}
