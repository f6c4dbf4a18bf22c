package dev.ferry.vmm.machine;

/**
 * Where vCPU threads wait while the machine is not running, and how the control thread knows
 * they have all stopped. A vCPU thread calls {@link #awaitRun()} before every entry into the
 * guest; the control thread calls {@link #stopAll(Runnable)} / {@link #release()}.
 */
final class VcpuControl {

    private final int vcpus;
    private boolean runnable;
    private boolean terminating;
    /** Auto-converge: vCPUs are held back for a slice of time while the machine stays running. */
    private boolean held;
    private int parked;

    VcpuControl(int vcpus) {
        this.vcpus = vcpus;
    }

    /**
     * Blocks while the machine is stopped. Returns false when the vCPU thread must end.
     */
    synchronized boolean awaitRun() {
        if (runnable && !held && !terminating) {
            return true;
        }
        parked++;
        notifyAll();
        try {
            while ((!runnable || held) && !terminating) {
                wait();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            parked--;
        }
        return !terminating;
    }

    /**
     * Called by a vCPU thread that reported a machine event: waits until the control thread has
     * stopped the machine (cleared the run flag), so the vCPU does not re-enter a guest that is
     * being reset or shut down; {@link #awaitRun()} then parks it.
     */
    synchronized void awaitStopRequested() {
        try {
            while (runnable && !terminating) {
                wait();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Called by a vCPU thread that leaves its loop for good. */
    synchronized void exited() {
        parked++;
        notifyAll();
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
        kick.run();
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
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
