package dev.ferry.vmm.machine;

import dev.ferry.vmm.hypervisor.Vcpu;
import dev.ferry.vmm.os.Threads;

/**
 * Where vCPU threads wait while the machine is not running, and how the control thread knows
 * they have all stopped. A vCPU thread calls {@link #awaitRun(Parking)} before every entry into the
 * guest; the control thread calls {@link #stopAll(Runnable)} / {@link #release()}.
 */
final class VcpuControl {

    private final int vcpus;
    private boolean runnable;
    private boolean terminating;
    /** Auto-converge: vCPUs are held back for a slice of time while the machine stays running. */
    private boolean held;
    /** Written under the lock; volatile so that {@link #parkAll} may poll it without. */
    private volatile int parked;
    /** How long {@link #stopAll} polls before it waits. */
    private static final long SPIN_NANOS = 2_000_000;
    /** A migration's switchover: parked whatever the run flag says, until {@link #thaw()}. */
    private boolean frozen;
    /** The current freeze's vCPU states, saved as the vCPUs park; null when not frozen. */
    private FrozenVcpuStates frozenStates;
    /**
     * The next freeze's, made in advance: the first use of a class loads it (from the jar, a
     * few hundred microseconds), which must not happen while the guest is stopped.
     */
    private FrozenVcpuStates nextFreeze;
    /** The kernel thread ids of this control's vCPU threads, by vCPU index; 0 when not running. */
    private final int[] threadIds;
    /**
     * The vCPU threads the current freeze put in SCHED_FIFO (by index, 0 for none), which
     * {@link #thaw()} puts back before any can leave its wait; null if it raised none.
     */
    private int[] raisedThreads;

    VcpuControl(int vcpus) {
        this.vcpus = vcpus;
        this.threadIds = new int[vcpus];
        this.nextFreeze = new FrozenVcpuStates(vcpus);
    }

    /**
     * What a vCPU thread does on its way to parking (VcpuThread): finish the operation its last
     * exit left pending, and save its state when a migration freeze asks for it.
     */
    interface Parking {
        Vcpu vcpu();

        /**
         * Completes an I/O or MMIO exit's operation: KVM finishes it (and moves RIP past the
         * instruction) only at the next KVM_RUN, and a state read before that would make the
         * target execute the instruction again (api.rst, "the corresponding operations are
         * complete ... only after userspace has re-entered the kernel with KVM_RUN").
         */
        void completePendingExit();
    }

    /**
     * Blocks while the machine is stopped; {@code vcpu} (null in tests) completes its pending
     * exit before it counts as parked, and saves its state for a freeze after. Returns false when
     * the vCPU thread must end.
     */
    boolean awaitRun(Parking vcpu) {
        synchronized (this) {
            if (runnable && !held && !frozen && !terminating) {
                return true;
            }
        }
        if (vcpu != null) {
            vcpu.completePendingExit();
        }
        FrozenVcpuStates toSave;
        synchronized (this) {
            parked++;
            notifyAll();
            toSave = frozen && frozenStates != null && vcpu != null && frozenStates.claim(vcpu.vcpu().id())
                    ? frozenStates : null;
        }
        try {
            if (toSave != null) {
                toSave.save(vcpu.vcpu());       // outside the lock: vCPUs save in parallel
            }
            synchronized (this) {
                while ((!runnable || held || frozen) && !terminating) {
                    wait();
                }
                return !terminating;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            synchronized (this) {
                parked--;
            }
        }
    }

    /**
     * Called by a vCPU thread that reported a machine event: waits until the control thread has
     * stopped the machine (cleared the run flag), so the vCPU does not re-enter a guest that is
     * being reset or shut down; {@link #awaitRun(Parking)} then parks it.
     */
    synchronized void awaitStopRequested() {
        try {
            while (runnable && !frozen && !terminating) {
                wait();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Called by vCPU thread {@code index} once it runs, with its kernel thread id. */
    synchronized void threadStarted(int index, int tid) {
        threadIds[index] = tid;
    }

    /** Called by vCPU thread {@code index} as it leaves its loop for good. */
    synchronized void exited(int index) {
        threadIds[index] = 0;
        exited();
    }

    /** Called by a vCPU thread that leaves its loop for good. */
    synchronized void exited() {
        parked++;
        notifyAll();
    }

    /** Under the lock: the running vCPU threads in the normal policy enter SCHED_FIFO; which did. */
    private int[] raiseThreads() {
        int[] raised = new int[threadIds.length];
        for (int i = 0; i < threadIds.length; i++) {
            int tid = threadIds[i];
            if (tid != 0 && Threads.policyOf(tid) == Threads.SCHED_OTHER && Threads.enterRealtime(tid)) {
                raised[i] = tid;
            }
        }
        return raised;
    }

    /** Under the lock: what {@link #raiseThreads} did is undone, for the threads still running. */
    private void lowerThreads() {
        int[] raised = raisedThreads;
        raisedThreads = null;
        if (raised == null) {
            return;
        }
        for (int i = 0; i < raised.length; i++) {
            if (raised[i] != 0 && raised[i] == threadIds[i]) {
                Threads.setPolicy(raised[i], Threads.SCHED_OTHER);
            }
        }
    }

    /**
     * Stops every vCPU: clears the run flag, kicks them with {@code kick}, and waits until all are
     * parked (or gone). Returns false if they did not stop within the timeout.
     */
    boolean stopAll(Runnable kick, long timeoutMillis) throws InterruptedException {
        synchronized (this) {
            runnable = false;
            notifyAll();
        }
        return parkAll(kick, timeoutMillis, true);
    }

    /**
     * Freezes the vCPUs for a migration's switchover, from any thread: they park at their next
     * exit and stay parked whatever the run flag does meanwhile (stop and cont on the control
     * thread change only the state they will resume to), until {@link #thaw()}. Returns false,
     * thawed again, if they did not all park within the timeout. Polls for them first, as
     * {@link #stopAll} does, unless {@code spin} is false (see {@link #parkAll}).
     *
     * <p>With {@code threadsAhead} (a freezer in SCHED_FIFO) the vCPU threads in the normal policy enter SCHED_FIFO before the kick and
     * leave it at {@link #thaw()}, before any can run the guest again (here too if they did not
     * all park). Between its kick and its park, where it also saves its own state, a vCPU thread
     * is on the downtime's path, and as a time-sharing thread that has used more than its share
     * (it ran the guest) it waited behind anything else: `perf sched`, 4 GiB idle guest, 2-core
     * host: kicked while preempted, moved to the other core behind a SCHED_IDLE compiler thread
     * until the next tick (a 4.1 ms freeze); mid-save, preempted by the control thread entering
     * finish-migrate, then the QMP and a compiler thread (1.1 ms). Only this control's own
     * threads are touched (a reset racing the freeze starts new ones under a new control), and
     * a thread in another policy (chrt) is left as it is.
     */
    boolean freeze(Runnable kick, long timeoutMillis, boolean spin, boolean threadsAhead) throws InterruptedException {
        synchronized (this) {
            frozen = true;
            frozenStates = nextFreeze;
            if (threadsAhead) {
                raisedThreads = raiseThreads();
            }
            notifyAll();
        }
        boolean parkedAll = false;
        try {
            parkedAll = parkAll(kick, timeoutMillis, spin);
            return parkedAll;
        } finally {
            if (!parkedAll) {
                thaw();
            }
        }
    }

    /** Ends {@link #freeze}: the vCPUs run again if the run flag says so. */
    synchronized void thaw() {
        lowerThreads();     // under the lock: no vCPU leaves its wait before this is done
        frozen = false;
        if (frozenStates != null) {
            frozenStates = null;
            nextFreeze = new FrozenVcpuStates(vcpus);
        }
        notifyAll();
    }

    /** The vCPU states of the current freeze (being saved by the parking vCPUs); null if not frozen. */
    synchronized FrozenVcpuStates frozenStates() {
        return frozenStates;
    }

    /** Clears the run flag without waiting (for vCPUs already parked, e.g. frozen). */
    synchronized void clearRunnable() {
        runnable = false;
        notifyAll();
    }

    /**
     * Kicks the vCPUs and waits until all are parked. A kicked vCPU parks within a millisecond
     * or so. Polling for that ({@code spin}) keeps this thread on its core; waiting would hand
     * the core away, and on a busy small host a time-sharing thread takes 1-4 ms to get it back,
     * all of it downtime when a migration switches over. A real-time thread gets it back at
     * once, and must not poll: a vCPU thread waiting for the same core cannot run, let alone
     * park, until the polling ends (debug timelines: a freeze took 2.2-2.3 ms instead of
     * 0.25-0.55 in 4 of 8 runs, SPIN_NANOS plus the park).
     */
    private boolean parkAll(Runnable kick, long timeoutMillis, boolean spin) throws InterruptedException {
        kick.run();
        long start = System.nanoTime();
        long deadline = start + timeoutMillis * 1_000_000;
        while (spin && parked < vcpus && System.nanoTime() - start < SPIN_NANOS) {
            Thread.onSpinWait();
        }
        synchronized (this) {
            while (parked < vcpus) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    return false;
                }
                wait(Math.min(left, 50));
                if (parked < vcpus) {
                    kick.run();     // a vCPU may have re-entered KVM_RUN between flag and kick
                }
            }
        }
        return true;
    }

    synchronized void release() {
        runnable = true;
        notifyAll();
    }

    /** Holds vCPUs back (they park at their next exit) or lets them go; independent of stop/release. */
    synchronized void hold(boolean on) {
        held = on;
        notifyAll();
    }

    synchronized void terminate() {
        terminating = true;
        notifyAll();
    }

    synchronized boolean isRunnable() {
        return runnable && !terminating;
    }
}
