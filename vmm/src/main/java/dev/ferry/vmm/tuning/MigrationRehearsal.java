package dev.ferry.vmm.tuning;

import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.os.Threads;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A small migration that Ferry performs with itself, once per process and at low priority,
 * before any real one ({@link RehearsalRounds} says what it goes through): rounds of a scratch
 * migration, then rounds of the state codecs and of the machine's own state save (and load, on
 * a target).
 *
 * <p>Why: the first run of that code is slow. The JVM interprets it, then compiles it, and the
 * compilers compete with the migration for the same cores; Jackson and JNA set up their
 * accessors on first use. A VMM process migrates at most once in practice (the target is always
 * fresh, the source has never migrated), so every real migration would be a cold one. Measured
 * on the 2-core development machine, 1 GiB guest, 512 MiB touched: source migration thread
 * 300 ms CPU cold, 150 ms after a rehearsal; the state codecs' first use cost 160 ms of downtime
 * before they were warmed (docs/benchmarks.md).
 *
 * <p>It is also a self-check: a round that finds its copy differs from the original throws
 * {@link SelfCheckFailed}, and the VMM logs an error. {@code -Dferry.migration.rehearsal=false}
 * turns it off.
 */
public final class MigrationRehearsal {

    /** Rounds of the rehearsal: enough page traffic for the JIT to compile the per-page paths. */
    static final int ROUNDS = 3;
    /** Nice value of the rehearsal's threads: it uses spare CPU, not the guest's. */
    public static final int NICE = 10;
    /**
     * Extra rounds of the state codecs and of the machine's own state save (and, on a target
     * waiting in inmigrate, load): they run once per switchover, in the downtime, so they must be
     * compiled code by then (the JIT compiles after a few hundred calls); interpreted, Jackson
     * took ~10 ms of each switchover.
     */
    static final int CODEC_ROUNDS = 300;
    static final boolean ENABLED = !"false".equals(System.getProperty("ferry.migration.rehearsal"));

    private final RehearsalRounds rounds;
    private final CountDownLatch go = new CountDownLatch(1);
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile long delayMillis = -1;
    /** A real migration has started and waits for the rehearsal: do the least that helps it. */
    private volatile boolean urgent;
    private Thread thread;

    public MigrationRehearsal(RehearsalRounds rounds) {
        this.rounds = rounds;
    }

    /** Starts the rehearsal after {@code millis} (unless {@link #startNow()} comes first); once. */
    public synchronized void startAfter(long millis) {
        if (thread != null) {
            return;
        }
        if (!ENABLED) {
            done.countDown();
            return;
        }
        delayMillis = millis;
        thread = new Thread(this::run, "migration-rehearsal");
        thread.setDaemon(true);
        thread.start();
    }

    /** A migration starts: rehearse now, alongside its first pass, if not done yet. */
    public void startNow() {
        urgent = true;
        startAfter(0);
        go.countDown();
    }

    /** Waits (bounded) for the rehearsal, so it does not compete with a switchover. */
    public void await(long millis) {
        try {
            done.await(millis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        try {
            go.await(delayMillis, TimeUnit.MILLISECONDS);
            Threads.lowerPriority(NICE);
            // Off any migration's path: the probe waits for an idle core (OutgoingMigration,
            // JitPriority read its answer).
            Threads.probeIdlePolicy();
            // Loads and initialises the management beans the switchover reads (10 ms the first time).
            EdenHeadroom.freeBytes();
            long t0 = System.nanoTime();
            long t1;
            int codecRounds = 0;
            try {
                rounds.begin();
                for (int round = 0; round < ROUNDS && !(urgent && round > 0); round++) {
                    rounds.migration();
                }
                t1 = System.nanoTime();
                while (codecRounds < CODEC_ROUNDS && !(urgent && codecRounds > 0)) {
                    rounds.stateTransfer();
                    codecRounds++;
                }
            } finally {
                rounds.end();
            }
            Log.debug("migration rehearsal: state codecs x" + codecRounds + " in " + (System.nanoTime() - t1) / 1000
                    + " us");
            Log.debug("migration rehearsal done in " + (System.nanoTime() - t0) / 1000 + " us");
        } catch (SelfCheckFailed e) {
            Log.error("migration self-check: " + e.getMessage() + "; live migration may be broken in this build");
        } catch (Exception e) {
            // Only a rehearsal (a missing temporary directory, say): the real migration reports its own errors.
            Log.debug("migration rehearsal: " + e);
        } finally {
            done.countDown();
        }
    }
}
