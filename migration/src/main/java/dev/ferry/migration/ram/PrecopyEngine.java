package dev.ferry.migration.ram;

import dev.ferry.migration.stream.RecordType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.CancellationException;
import java.util.function.LongSupplier;

/**
 * Iterative precopy (the algorithm of QEMU's migration/ram.c, written for Ferry): send all RAM
 * while the guest runs, then repeatedly what it dirtied meanwhile, until the rest is expected to
 * fit in the downtime limit at the measured bandwidth; then stop the guest, send the last dirty
 * pages and the device state. Until the caller has the target's acknowledgement the source
 * guest is intact: on any failure or cancellation the engine resumes it if it had stopped it.
 *
 * <p>Each page goes where a {@link PageRouter} says: plain in RAM records (by default, every
 * page), to a {@link PageSealer}, or nowhere. A skipped page counts in none of the figures, as
 * QEMU counts no page of a RAM block it does not migrate (x-ignore-shared): not transferred,
 * not duplicate or normal, not remaining. A sealed page counts as normal, and the bytes of its
 * sealed records as transferred.
 *
 * <p>Works over {@link GuestPages}, {@link DirtyLog} and {@link RecordSink} only, so it is tested
 * with in-memory fakes and a fake clock.
 */
public final class PrecopyEngine {

    static final int PAGE = ZeroPages.PAGE_SIZE;
    /** Pages per RAM record: large enough to amortise a record's overhead. */
    static final int BATCH_PAGES = 256;
    /** Throttle when the guest dirtied at least this share of what a pass sent (QEMU: 50%). */
    static final double THROTTLE_TRIGGER = 0.5;
    static final int MAX_THROTTLE = 99;
    /**
     * Below this expected time for the last pages a switchover is not delayed for another
     * pass. Above it, a pass that left at most half of what it sent is followed by another
     * even once the downtime limit is met: the limit is an upper bound, and a shrinking dirty
     * set makes the final pause shorter for a little more total time (QEMU stops at the
     * limit). A quarter of a millisecond: about what one dirty-log fetch of a 1 GiB guest
     * costs here, so a pass that saves less cannot pay; at 5 ms an idle guest's last 200
     * pages (0.8 MB dirtied during the first pass) took 1 ms of a 3 ms pause.
     */
    static final long SHORT_DOWNTIME_MICROS = 250;
    static final int MAX_EXTRA_PASSES = 4;

    private final GuestPages ram;
    private final DirtyLog dirtyLog;
    private final RecordSink sink;
    private final PageRouter router;
    /** The default router: no call to it at all, the loops are today's. */
    private final boolean allPlain;
    private final PageSealer sealer;
    /** Pages on their way to the sealer, {@code sealing} of them (null without a sealer). */
    private final long[] sealBatch;
    private int sealing;
    private final PrecopyParameters params;
    private final LongSupplier nanoClock;
    private final Sleeper sleeper;

    private volatile boolean cancelled;
    private volatile MigrationStats stats;
    /** max-bandwidth and downtime-limit: changeable while the migration runs, as in QEMU. */
    private volatile long maxBandwidth;
    private volatile long downtimeLimitMillis;
    /** The limit changed: the rate window starts afresh (bytes sent under the old one do not count). */
    private volatile boolean rateWindowReset;
    /** The dirty log is on (guarded by this). */
    private boolean logging;

    // Running totals.
    private long transferred;
    private long duplicate;
    private long normal;
    private long dirtySyncs;
    private long remaining;
    private long expectedDowntimeMillis;
    private long dirtyPagesRate;
    private double bandwidth;         // bytes per second, measured over the last pass
    private int throttle;
    private int passes;
    private long startNanos;
    private long rateWindowStart;
    private long rateWindowBytes;

    /** Sleeps for rate limiting; replaced in tests. */
    @FunctionalInterface
    public interface Sleeper {
        void sleepNanos(long nanos) throws InterruptedException;
    }

    public PrecopyEngine(GuestPages ram, DirtyLog dirtyLog, RecordSink sink, PrecopyParameters params,
                         LongSupplier nanoClock, Sleeper sleeper) {
        this(ram, dirtyLog, sink, PageRouter.ALL_PLAIN, null, params, nanoClock, sleeper);
    }

    /** An engine whose pages go where {@code router} says; {@code sealer} may be null if it seals none. */
    public PrecopyEngine(GuestPages ram, DirtyLog dirtyLog, RecordSink sink, PageRouter router, PageSealer sealer,
                         PrecopyParameters params, LongSupplier nanoClock, Sleeper sleeper) {
        this.ram = ram;
        this.dirtyLog = dirtyLog;
        this.sink = sink;
        this.router = router;
        this.allPlain = router == PageRouter.ALL_PLAIN;
        this.sealer = sealer;
        this.sealBatch = sealer == null ? null : new long[sealer.batchPages()];
        this.params = params;
        this.maxBandwidth = params.maxBandwidth();
        this.downtimeLimitMillis = params.downtimeLimitMillis();
        this.nanoClock = nanoClock;
        this.sleeper = sleeper;
        this.stats = new MigrationStats(0, ram.pageCount() * PAGE, ram.pageCount() * PAGE, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0);
    }

    public static PrecopyEngine create(GuestPages ram, DirtyLog log, RecordSink sink, PrecopyParameters params) {
        return new PrecopyEngine(ram, log, sink, params, System::nanoTime,
                n -> Thread.sleep(n / 1_000_000, (int) (n % 1_000_000)));
    }

    /** Asks the engine to stop at the next batch boundary (QMP migrate_cancel). */
    public void cancel() {
        cancelled = true;
    }

    /** The figures so far; safe to call from any thread (query-migrate). */
    public MigrationStats stats() {
        return stats;
    }

    /**
     * Runs the migration up to and including the END record. Returns the final statistics; throws
     * if the transfer failed or was cancelled, after resuming the guest if it had been stopped.
     * After a successful run the dirty log is still on: the caller ends it with
     * {@link #stopDirtyLog()} if the target refuses, or before the guest runs again (see there).
     */
    public MigrationStats run(OutgoingMachine hooks) throws IOException, InterruptedException {
        startNanos = nanoClock.getAsLong();
        rateWindowStart = startNanos;
        boolean guestStopped = false;
        boolean sent = false;
        synchronized (this) {
            dirtyLog.start();
            logging = true;
        }
        try {
            long[] populated = ram.populated();
            long[] toSend = populated != null ? populated : allPages();
            // Pages known to be zero are not sent at all (the target starts zeroed); they
            // count as duplicate (zero) pages, as QEMU counts zero pages.
            duplicate += allPlain ? ram.pageCount() - count(toSend) : unsentZeroPages(toSend);
            // What the first pass will write into the target's RAM, so that it can allocate
            // that memory ahead of the stream (RAM_EXTENTS).
            ByteBuffer extents = PageExtents.encode(allPlain ? toSend : notSkipped(toSend), ram.pageCount());
            transferred += extents.remaining();
            sink.write(RecordType.RAM_EXTENTS, extents);
            long downtimeStart = 0;
            int extraPasses = 0;
            while (true) {
                passes++;
                long passStart = nanoClock.getAsLong();
                long sentBefore = transferred;
                sendPages(toSend);
                long passNanos = Math.max(1, nanoClock.getAsLong() - passStart);
                long passBytes = transferred - sentBefore;
                if (passBytes > 0) {
                    bandwidth = passBytes * 1e9 / passNanos;
                }
                toSend = dirtyLog.fetchAndClear();
                dirtySyncs++;
                long dirty = allPlain ? count(toSend) : countNotSkipped(toSend);
                remaining = dirty * PAGE;
                dirtyPagesRate = (long) (dirty * 1e9 / passNanos);
                long expectedMicros = bandwidth > 0 ? (long) (remaining * 1e6 / bandwidth) : 0;
                expectedDowntimeMillis = expectedMicros / 1000;
                hooks.passCompleted(passes);
                publish(0);
                boolean converged = expectedDowntimeMillis <= downtimeLimitMillis;
                boolean anotherPassPays = converged && expectedMicros > SHORT_DOWNTIME_MICROS
                        && remaining * 2 <= passBytes && extraPasses < MAX_EXTRA_PASSES;
                if ((converged && !anotherPassPays) || passes >= params.maxPasses()) {
                    break;
                }
                if (anotherPassPays) {
                    extraPasses++;
                    continue;
                }
                if (params.autoConverge() && passBytes > 0 && remaining >= THROTTLE_TRIGGER * passBytes) {
                    throttle = throttle == 0 ? params.throttleInitial()
                            : Math.min(MAX_THROTTLE, throttle + params.throttleIncrement());
                    hooks.throttle(throttle);
                }
            }
            // Switchover: the guest stops; the last dirty pages and the device state go.
            hooks.stopGuest();
            guestStopped = true;
            downtimeStart = nanoClock.getAsLong();
            long[] last = dirtyLog.fetchAndClear();
            dirtySyncs++;
            for (int i = nextNonZero(toSend, 0); i < toSend.length; i = nextNonZero(toSend, i + 1)) {
                last[i] |= toSend[i];
            }
            sendPages(last);
            remaining = 0;
            hooks.writeFinalState(sink);
            sink.write(RecordType.END);
            long downtime = (nanoClock.getAsLong() - downtimeStart) / 1_000_000;
            publish(downtime);
            sent = true;
            return stats;
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (guestStopped) {
                hooks.resumeGuest();
            }
            throw e;
        } finally {
            if (!sent) {
                stopDirtyLog();
            }
            if (throttle > 0) {
                hooks.throttle(0);
            }
        }
    }

    /**
     * migrate-set-parameters during the migration: QEMU applies a new max-bandwidth to the
     * transfer at once and judges the next pass by the new downtime-limit; so does this engine
     * (from its next batch and its next pass).
     */
    public void setLimits(long maxBandwidth, long downtimeLimitMillis) {
        if (maxBandwidth < 0 || downtimeLimitMillis < 0) {
            throw new IllegalArgumentException("negative limit: " + maxBandwidth + " B/s, " + downtimeLimitMillis
                    + " ms");
        }
        this.maxBandwidth = maxBandwidth;
        this.downtimeLimitMillis = downtimeLimitMillis;
        rateWindowReset = true;
    }

    /**
     * Ends dirty logging; once only. Not done at END, where the guest is stopped everywhere and
     * the target is loading the state, nor at the target's acknowledgement, while it starts the
     * guest: on KVM it re-registers every RAM slot, milliseconds of CPU that would compete with
     * the target on a small host and lengthen the downtime. A guest stopped for good by a
     * completed migration needs it only if it is resumed (SourceSession#run).
     */
    public synchronized void stopDirtyLog() {
        if (logging) {
            logging = false;
            dirtyLog.stop();
        }
    }

    private long[] allPages() {
        long n = ram.pageCount();
        long[] bits = new long[(int) ((n + 63) / 64)];
        for (long i = 0; i < n; i++) {
            bits[(int) (i >>> 6)] |= 1L << i;
        }
        return bits;
    }

    /**
     * The index of the first non-zero word of {@code bits} at or after {@code from}, or
     * {@code bits.length}. Found by comparison with a zero array: Arrays.mismatch is a vector
     * intrinsic, fast even when the caller still runs interpreted, as this engine's loops do
     * at the switchover (they run a few times per migration, too few to be compiled): a word
     * loop over a 4 GiB guest's 16,384-word bitmap took 0.3 ms there, twice.
     */
    private int nextNonZero(long[] bits, int from) {
        if (from >= bits.length) {
            return bits.length;
        }
        if (zeros.length < bits.length) {
            zeros = new long[bits.length];
        }
        int m = Arrays.mismatch(bits, from, bits.length, zeros, 0, bits.length - from);
        return m < 0 ? bits.length : from + m;
    }

    /** All zero, at least as long as the bitmaps (see nextNonZero). */
    private long[] zeros = new long[0];

    /** Pages of {@code bits} that the router does not skip. */
    private long countNotSkipped(long[] bits) {
        long c = 0;
        for (int w = nextNonZero(bits, 0); w < bits.length; w = nextNonZero(bits, w + 1)) {
            c += Long.bitCount(bits[w] & ~router.skipped(w) & pagesOfWord(w));
        }
        return c;
    }

    /** The pages of {@code bits} that the router does not skip, as a new bitmap. */
    private long[] notSkipped(long[] bits) {
        long[] out = bits.clone();
        for (int w = 0; w < out.length; w++) {
            out[w] &= ~router.skipped(w);
        }
        return out;
    }

    /** Pages outside {@code populated} that the router does not skip: zero pages not sent. */
    private long unsentZeroPages(long[] populated) {
        long c = 0;
        for (int w = 0; w < populated.length; w++) {
            c += Long.bitCount(~populated[w] & ~router.skipped(w) & pagesOfWord(w));
        }
        return c;
    }

    /** The bits of word {@code w} that are pages of the RAM (the last word may be partial). */
    private long pagesOfWord(int w) {
        long left = ram.pageCount() - ((long) w << 6);
        return left >= 64 ? -1L : left <= 0 ? 0 : (1L << left) - 1;
    }

    private static long count(long[] bits) {
        long c = 0;
        for (long w : bits) {
            c += Long.bitCount(w);
        }
        return c;
    }

    /** Reused by every pass (the last one runs in the downtime): the sink is done with it after each flush. */
    private final PageBatch batch = new PageBatch(BATCH_PAGES);

    private void sendPages(long[] bits) throws IOException, InterruptedException {
        batch.clear();
        sealing = 0;
        for (int w = nextNonZero(bits, 0); w < bits.length; w = nextNonZero(bits, w + 1)) {
            long word = bits[w];
            if (!allPlain) {
                long skipped = router.skipped(w);
                long sealed = router.sealed(w) & ~skipped & word & pagesOfWord(w);
                word &= ~(skipped | sealed);
                if (sealed != 0) {
                    addSealed(w, sealed);
                }
            }
            while (word != 0) {
                int bit = Long.numberOfTrailingZeros(word);
                word &= word - 1;
                long index = ((long) w << 6) + bit;
                if (index >= ram.pageCount()) {
                    continue;
                }
                batch.add(ram.address(index), ram.block(index), ram.offsetInBlock(index));
                if (batch.size() >= BATCH_PAGES) {
                    flush(batch);
                    batch.clear();     // the sink has written the pages: the batch can be reused
                }
            }
        }
        if (batch.size() > 0) {
            flush(batch);
        }
        if (sealing > 0) {
            flushSealed();
        }
    }

    private void addSealed(int w, long pages) throws IOException, InterruptedException {
        if (sealer == null) {
            throw new IllegalStateException("the page router seals pages of word " + w + " but there is no sealer");
        }
        while (pages != 0) {
            int bit = Long.numberOfTrailingZeros(pages);
            pages &= pages - 1;
            sealBatch[sealing++] = ((long) w << 6) + bit;
            if (sealing == sealBatch.length) {
                flushSealed();
            }
        }
    }

    private void flushSealed() throws IOException, InterruptedException {
        if (cancelled) {
            throw new CancellationException("migration cancelled");
        }
        long bytes = sealer.seal(sealBatch, sealing, sink);
        transferred += bytes;
        normal += sealing;
        sealing = 0;
        limitRate(bytes);
        publish(0);
    }

    private void flush(PageBatch batch) throws IOException, InterruptedException {
        if (cancelled) {
            throw new CancellationException("migration cancelled");
        }
        long bytes = batch.length();
        sink.writePages(batch);
        transferred += bytes;
        duplicate += batch.zeroPages();
        normal += batch.size() - batch.zeroPages();
        limitRate(bytes);
        publish(0);
    }

    /** max-bandwidth: sleeps so that bytes sent in the current 100 ms window stay under the limit. */
    private void limitRate(long bytes) throws InterruptedException {
        long limit = maxBandwidth;
        if (limit <= 0) {
            return;
        }
        long now = nanoClock.getAsLong();
        if (rateWindowReset) {
            rateWindowReset = false;
            rateWindowStart = now;
            rateWindowBytes = 0;
        }
        rateWindowBytes += bytes;
        long allowedNanos = (long) (rateWindowBytes * 1e9 / limit);
        long elapsed = now - rateWindowStart;
        // In slices, so that a new limit or a cancel takes effect within 50 ms.
        for (long wait = allowedNanos - elapsed; wait > 0 && !rateWindowReset && !cancelled; ) {
            long slice = Math.min(wait, 50_000_000L);
            sleeper.sleepNanos(slice);
            wait -= slice;
        }
        if (elapsed > 100_000_000L) {
            rateWindowStart = nanoClock.getAsLong();
            rateWindowBytes = 0;
        }
    }

    private void publish(long downtimeMillis) {
        long elapsedNanos = Math.max(1, nanoClock.getAsLong() - startNanos);
        double seconds = elapsedNanos / 1e9;
        stats = new MigrationStats(transferred, remaining, ram.pageCount() * PAGE, duplicate, normal,
                normal * PAGE, dirtyPagesRate, transferred * 8 / 1e6 / seconds, dirtySyncs,
                (long) ((duplicate + normal) / seconds), expectedDowntimeMillis, downtimeMillis,
                elapsedNanos / 1_000_000, passes, throttle);
    }
}
