package dev.ferry.vmm.tuning;

import dev.ferry.vmm.os.Threads;

/**
 * Runs the threads that do a switchover's work while the guest is stopped in SCHED_FIFO, if
 * this process may (CAP_SYS_NICE or an RLIMIT_RTPRIO of at least 1): the source's migration
 * thread from the stop until END has gone, its return-path thread from the target's APPLIED
 * (the stop is next) until it has read the ACK, the target's migration thread from the SYNC
 * before the stop until the guest runs. Off with {@code -Dferry.migration.realtime=false}.
 *
 * <p>Why: on a host whose cores are all taken (the guest's vCPUs, the other VMM, JIT compilers),
 * a time-sharing thread that has just moved half a gigabyte has used more than its share, and
 * the kernel's EEVDF scheduler lets any thread whose share is left run first, even one in
 * SCHED_IDLE: `perf sched timehist` showed the target's migration thread runnable for 1.8 ms
 * while a SCHED_IDLE compiler thread ran, and 3 ms behind the source's clean-up after the ACK.
 * A real-time thread runs ahead of all of them. The window is a few milliseconds for an idle
 * guest and at most the downtime limit for a busy one, within the kernel's real-time
 * throttling (sched_rt_runtime_us). Two A/Bs of 8 interleaved runs each, 1 GiB idle guest,
 * 2-core host: pause median 3.0 -> 2.0 ms and 2.7 -> 2.2 ms (docs/migration.md).
 *
 * <p>The policy is the calling thread's: {@link #lower} acts only on the thread that raised
 * it, and is a no-op on any other (a step that may run on either of two threads can call it).
 */
public final class RealtimePriority {
    public static final boolean ENABLED = !"false".equals(System.getProperty("ferry.migration.realtime"));

    /** The thread whose policy {@link #raise} changed; null while none is. */
    private volatile Thread raised;

    /** From now on this thread runs ahead of time-sharing threads, if the process may. */
    public void raise() {
        if (ENABLED && raised == null && Threads.enterRealtime()) {
            raised = Thread.currentThread();
        }
    }

    /** True if {@link #raise} took effect on this thread (it runs in SCHED_FIFO now). */
    public boolean raisedHere() {
        return raised == Thread.currentThread();
    }

    /** Back to the normal policy, if {@link #raise} took effect on this thread. */
    public void lower() {
        if (raised == Thread.currentThread()) {
            raised = null;
            Threads.setPolicy(Threads.SCHED_OTHER);
        }
    }

    /** The raised thread has set another policy itself: nothing to undo any more. */
    public void replaced() {
        if (raised == Thread.currentThread()) {
            raised = null;
        }
    }
}
