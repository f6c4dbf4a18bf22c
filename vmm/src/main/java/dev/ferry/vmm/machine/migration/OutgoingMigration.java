package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.ram.MigrationStats;
import dev.ferry.migration.ram.OutgoingMachine;
import dev.ferry.migration.ram.PrecopyEngine;
import dev.ferry.migration.ram.PrecopyParameters;
import dev.ferry.migration.ram.RecordSink;
import dev.ferry.migration.session.MigrationException;
import dev.ferry.migration.session.SourceSession;
import dev.ferry.migration.session.SourceThreadPriorities;
import dev.ferry.migration.transport.FileMigrationChannel;
import dev.ferry.migration.transport.MigrationChannel;
import dev.ferry.migration.transport.MigrationUri;
import dev.ferry.migration.transport.SocketTransport;
import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.hypervisor.VcpuState;
import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.RunState;
import dev.ferry.vmm.machine.SwitchoverControl;
import dev.ferry.vmm.transport.FdChannel;
import dev.ferry.vmm.os.Threads;
import dev.ferry.vmm.tuning.DebugTimeline;
import dev.ferry.vmm.tuning.EdenHeadroom;
import dev.ferry.vmm.tuning.JitPriority;
import dev.ferry.vmm.tuning.RealtimePriority;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;

/**
 * One outgoing migration on its own thread: connect, precopy with KVM's dirty log, switchover
 * (vCPUs stopped; with pause-before-switchover wait for migrate-continue), final state, the
 * target's acknowledgement. The source guest resumes by itself on any failure before that.
 */
final class OutgoingMigration implements OutgoingMachine {

    private final MigrationController controller;
    private final Machine machine;
    /** What this migration does with the machine. */
    private final SwitchoverControl switchover;
    private final MigrationUri uri;
    private final int fd;
    private final MigrationSettings settings;
    private final CountDownLatch continued = new CountDownLatch(1);
    private final long startNanos = System.nanoTime();

    private volatile MigrationStatus status = MigrationStatus.NONE;
    private volatile SourceSession session;
    private volatile PrecopyEngine engine;
    private volatile boolean cancelled;
    private volatile String abortReason;
    private volatile String errorDesc;
    private volatile long setupMillis;
    private volatile long endNanos;
    private volatile MigrationStats finalStats;
    /** Switchover: from the vCPUs' stop to the target's acknowledgement (the guest runs nowhere). */
    private volatile long stopNanos;
    /** Linked with the migration, not at the switchover (a lambda's first run generates a class). */
    private final java.util.concurrent.Callable<RunState> enterFinishMigrate;
    /** Debug stamps of the switchover, written once the target has answered. */
    private volatile DebugTimeline timeline = new DebugTimeline("switchover: ");
    private volatile long downtimeMillis;
    /** finish-migrate entered on the control thread, with the run state to go back to on failure. */
    private volatile CompletableFuture<RunState> finishMigrate;

    OutgoingMigration(MigrationController controller, Machine machine, MigrationUri uri, int fd,
                      MigrationSettings settings) {
        this.controller = controller;
        this.machine = machine;
        this.switchover = machine.switchover();
        this.uri = uri;
        this.fd = fd;
        this.settings = settings;
        this.enterFinishMigrate = switchover::enterFinishMigrateOnControlThread;
    }

    /** The migration thread's, from the guest's stop until END has gone. */
    private final RealtimePriority priority = new RealtimePriority();

    /**
     * The source session's threads around the switchover. The migration thread, once the
     * switchover needs nothing more from it: on a host that source and target share, the
     * target's ACK wakes the source's threads on the core of the target thread that wrote it,
     * and EEVDF lets any eligible task in ahead of one that has used more than its share, as a
     * migration thread has: the source's clean-up after the ACK ran ahead of the target starting
     * the guest. So it goes to SCHED_IDLE if this process may leave it again (probed in the
     * background, Threads#probeIdlePolicy), and back once the answer is in; otherwise to nice
     * 19, which never starves (a refused migration must still resume the source guest on a busy
     * host). Either replaces the real-time policy of the switchover (RealtimePriority). The
     * return-path thread runs in real time from the target's APPLIED until it is done.
     */
    private final class Priorities implements SourceThreadPriorities {
        private final RealtimePriority returnPath = new RealtimePriority();

        @Override
        public void yieldAfterSwitchover() {
            if (Threads.idlePolicyReversible() && Threads.setPolicy(Threads.SCHED_IDLE)) {
                priority.replaced();
            } else {
                priority.lower();
                Threads.lowerPriority(19);
            }
        }

        @Override
        public void restoreAfterAnswer() {
            if (Threads.idlePolicyReversible()) {
                Threads.setPolicy(Threads.SCHED_OTHER);
            }
        }

        @Override
        public void raiseReturnPath() {
            returnPath.raise();
        }

        @Override
        public void lowerReturnPath() {
            returnPath.lower();
        }
    }

    MigrationStatus status() {
        return status;
    }

    /** The address could not be used: setup, then failed with {@code reason}; nothing runs. */
    void failAtStart(String reason) {
        setStatus(MigrationStatus.SETUP);
        finish(false, reason);
    }

    void start() {
        setStatus(MigrationStatus.SETUP);
        Thread t = new Thread(this::run, "migration-out");
        t.setDaemon(true);
        t.start();
    }

    private void setStatus(MigrationStatus s) {
        if (status != s) {
            status = s;
            controller.notifyStatus(s);
        }
    }

    void cancel() {
        if (!status.inProgress()) {
            return;
        }
        cancelled = true;
        setStatus(MigrationStatus.CANCELLING);
        stop();
    }

    /** Fails the migration for a reason of the machine's (reset, shutdown). */
    void abort(String reason) {
        if (!status.inProgress()) {
            return;
        }
        abortReason = reason;
        stop();
    }

    private void stop() {
        continued.countDown();
        SourceSession s = session;
        if (s != null) {
            s.cancel();
        }
    }

    /**
     * migrate-set-parameters while this migration runs: max-bandwidth and downtime-limit apply
     * now; before the engine exists, it picks up the controller's latest settings itself.
     */
    void setLimits(long bandwidth, long downtimeLimit) {
        PrecopyEngine e = engine;
        if (e != null) {
            e.setLimits(bandwidth, downtimeLimit);
        }
    }

    void continueSwitchover() {
        continued.countDown();
    }

    private void run() {
        MigrationChannel main = null;
        JitPriority.yieldToMigration();
        List<MigrationChannel> ram = new ArrayList<>();
        try {
            main = open();
            if (settings.has("multifd")) {
                for (int i = 0; i < settings.multifdChannels(); i++) {
                    ram.add(SocketTransport.connect(uri));
                }
            }
            if (cancelled || abortReason != null) {
                throw new MigrationException(cancelled ? "migration cancelled" : abortReason, cancelled, null);
            }
            SourceSession s = new SourceSession(main, ram, switchover.identity(), SourceSession.DEFAULT_ACK_TIMEOUT);
            s.setThreadPriorities(new Priorities());
            main = null;
            ram = List.of();
            session = s;
            var dirtyLog = machine.onControlThread(() -> {
                switchover.takeOverDirtyLogOnControlThread();
                return new KvmDirtyLog(switchover.vmOnControlThread(), machine.ram());
            }).get();
            EdenHeadroom.makeRoomForMigration();
            PrecopyEngine e = PrecopyEngine.create(new RamPages(machine.ram()), dirtyLog, s.sink(),
                    new PrecopyParameters(settings.downtimeLimitMillis(), settings.maxBandwidth(),
                            settings.has("auto-converge"), settings.throttleInitial(), settings.throttleIncrement(),
                            1000));
            engine = e;
            // Made now: a lambda is linked the first time it is evaluated, which after the ACK
            // would compete with the target starting the guest on a shared host.
            Runnable stopDirtyLog = e::stopDirtyLog;
            Callable<Void> finishOnControlThread = () -> {
                switchover.finishOutgoingMigrationOnControlThread(stopDirtyLog);
                return null;
            };
            MigrationSettings latest = controller.settings();     // a change that came meanwhile
            e.setLimits(latest.maxBandwidth(), latest.downtimeLimitMillis());
            controller.rehearsal().startNow();
            setupMillis = (System.nanoTime() - startNanos) / 1_000_000;
            if (cancelled || abortReason != null) {
                throw new MigrationException(cancelled ? "migration cancelled" : abortReason, cancelled, null);
            }
            setStatus(MigrationStatus.ACTIVE);
            controller.notifyPass(1);
            try {
                finalStats = s.run(e, this);
                downtimeMillis = (s.acknowledgedNanos() - stopNanos) / 1_000_000;
                timeline.markAt(s.acknowledgedNanos(), "acknowledged");
                timeline.print();
            } finally {
                s.close();
            }
            machine.onControlThread(finishOnControlThread).get();
            endNanos = System.nanoTime();
            Log.info("migration to " + uri + " completed: " + finalStats.transferred() + " bytes in "
                    + finalStats.totalTimeMillis() + " ms, downtime " + downtimeMillis + " ms");
            Log.debug("migration thread CPU time " + java.lang.management.ManagementFactory.getThreadMXBean()
                    .getCurrentThreadCpuTime() / 1_000_000 + " ms");
            setStatus(MigrationStatus.COMPLETED);
        } catch (MigrationException e) {
            finish(e.cancelled() && abortReason == null, abortReason != null ? abortReason : e.getMessage());
        } catch (IOException e) {
            finish(false, "cannot connect to " + uri + ": " + (e.getMessage() == null ? e : e.getMessage()));
        } catch (ExecutionException | InterruptedException | RuntimeException e) {
            Throwable c = e instanceof ExecutionException ? e.getCause() : e;
            finish(false, "migration failed: " + c);
        } finally {
            closeQuietly(main);
            ram.forEach(OutgoingMigration::closeQuietly);
            priority.lower();
            switchover.throttle(0);
            JitPriority.afterMigration();
        }
    }

    private void finish(boolean wasCancelled, String reason) {
        endNanos = System.nanoTime();
        if (wasCancelled || cancelled && abortReason == null) {
            Log.info("migration to " + uri + " cancelled");
            setStatus(MigrationStatus.CANCELLED);
        } else {
            errorDesc = reason;
            Log.info("migration" + (uri == null ? "" : " to " + uri) + " failed: " + reason);
            setStatus(MigrationStatus.FAILED);
        }
    }

    private MigrationChannel open() throws IOException {
        if (uri instanceof MigrationUri.Fd f) {
            return new FdChannel(fd, "fd:" + f.name());
        }
        if (uri instanceof MigrationUri.File f) {
            return FileMigrationChannel.create(f.path());
        }
        return SocketTransport.connect(uri);
    }

    private static void closeQuietly(MigrationChannel c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }

    // ---- OutgoingMachine (migration thread) ----

    @Override
    public void stopGuest() {
        controller.rehearsal().await(2_000);
        EdenHeadroom.makeRoom(EdenHeadroom.SWITCHOVER_BYTES);     // while the guest still runs
        priority.raise();
        stopNanos = System.nanoTime();
        try {
            switchover.freezeVcpusForMigration(priority.raisedHere());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted while stopping the vCPUs");
        }
        timeline = new DebugTimeline("switchover: ", stopNanos);
        timeline.mark("vCPUs stopped");
        // The run state (STOP event) follows on the control thread, off the downtime's path.
        finishMigrate = machine.onControlThread(enterFinishMigrate);
        if (settings.has("pause-before-switchover")) {
            // QEMU's order: STOP (finish-migrate), then the pre-switchover status.
            finishMigrate.exceptionally(e -> null).join();
            setStatus(MigrationStatus.PRE_SWITCHOVER);
            try {
                continued.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (cancelled || abortReason != null) {
                resumeGuest();
                throw new CancellationException("migration cancelled");
            }
            setStatus(MigrationStatus.DEVICE);
        }
    }

    @Override
    public void resumeGuest() {
        CompletableFuture<RunState> entered = finishMigrate;
        if (entered == null) {
            return;     // never frozen
        }
        // Runs after enterFinishMigrate on the control thread, so its answer is there by then.
        machine.onControlThread(() -> {
            switchover.resumeAfterMigrationOnControlThread(entered.exceptionally(e -> null).getNow(null));
            return null;
        }).join();
    }

    @Override
    public void writeFinalState(RecordSink sink) throws IOException {
        timeline.mark("last pages sent");
        // The vCPUs saved their own states as they parked for the freeze, while the last pages
        // went; the devices' state and the page-state bitmap are read right here.
        List<VcpuState> vcpus;
        try {
            vcpus = switchover.frozenVcpuStates();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while collecting the vCPU states");
        }
        FinalStateRecords saved = new FinalStateRecords(vcpus, switchover.saveDevices(),
                machine.pageStates().pageCount(), machine.pageStates().snapshot());
        timeline.mark("state saved");
        saved.writeTo(sink);
        timeline.mark("state sent");
    }

    @Override
    public void throttle(int percent) {
        switchover.throttle(Math.min(percent, settings.maxCpuThrottle()));
    }

    @Override
    public void passCompleted(int pass) {
        controller.notifyPass(pass + 1);
        EdenHeadroom.makeRoom(EdenHeadroom.SWITCHOVER_BYTES);
    }

    MigrationInfo info() {
        PrecopyEngine e = engine;
        MigrationStats stats = finalStats != null ? finalStats : e == null ? null : e.stats();
        long end = endNanos == 0 ? System.nanoTime() : endNanos;
        SourceSession s = session;
        return new MigrationInfo(status, false, setupMillis, (end - startNanos) / 1_000_000,
                downtimeMillis, stats, s == null ? 0 : s.multifdBytes(), errorDesc, switchover.throttlePercent(), null);
    }
}
