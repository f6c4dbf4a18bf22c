package dev.ferry.vmm.os;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;

/** Native identities of Java threads. */
public final class Threads {
    // gettid has no glibc wrapper before 2.30; the syscall number is per architecture
    // (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h).
    private static final long SYS_GETTID = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> 186;
        case "aarch64" -> 178;
        default -> -1;
    };

    private Threads() {}

    /** The kernel thread id of the calling thread (what tgkill(2) and /proc/PID/task name). */
    public static int currentTid() {
        if (SYS_GETTID < 0) {
            throw new UnsupportedOperationException(
                    "gettid syscall number unknown on " + System.getProperty("os.arch"));
        }
        return (int) LibC.syscall(SYS_GETTID);
    }

    /**
     * Lowers the calling thread's scheduling priority to nice value {@code nice} (Linux applies
     * setpriority(2) with PRIO_PROCESS to one thread, not the process). Raising a nice value
     * needs no privilege. Best effort: returns false if the kernel refused.
     */
    public static boolean lowerPriority(int nice) {
        return LibC.setpriority(PRIO_PROCESS, currentTid(), nice) == 0;
    }

    private static final int PRIO_PROCESS = 0;

    /**
     * Lowers to nice {@code nice} every thread of this process whose name (/proc/self/task/TID/comm,
     * at most 15 characters) starts with one of {@code namePrefixes}. Best effort: a thread that
     * ends meanwhile or a refusal is skipped. Returns how many threads were changed.
     */
    public static int lowerPriorityOf(int nice, String... namePrefixes) {
        return forEachThreadNamed(namePrefixes, tid -> LibC.setpriority(PRIO_PROCESS, tid, nice) == 0);
    }

    /**
     * As {@link #lowerPriorityOf(int, String...)}, and also puts the threads under {@code policy}
     * (SCHED_OTHER: no change of policy) in the same pass over /proc/self/task.
     */
    public static int lowerPriorityOf(int nice, int policy, String... namePrefixes) {
        int[] param = {0};
        return forEachThreadNamed(namePrefixes, tid -> LibC.setpriority(PRIO_PROCESS, tid, nice) == 0
                && (policy == SCHED_OTHER || LibC.sched_setscheduler(tid, policy, param) == 0));
    }

    /** sched(7): the normal time-sharing policy, weighted by the nice value. */
    public static final int SCHED_OTHER = 0;
    /**
     * sched(7): runs only on a core that nothing else wants; a core running only such threads
     * counts as idle when the kernel places a woken thread (kernel/sched/fair.c, sched_idle_cpu),
     * and any normal thread preempts them at once.
     */
    public static final int SCHED_IDLE = 5;

    /**
     * Sets the scheduling policy (priority 0) of every thread of this process whose name starts
     * with one of {@code namePrefixes}. Entering SCHED_IDLE needs no privilege; leaving it needs
     * CAP_SYS_NICE or an RLIMIT_NICE that allows the thread's nice value (sched_setscheduler(2)).
     * Best effort, as {@link #lowerPriorityOf}. Returns how many threads were changed.
     */
    public static int setPolicyOf(int policy, String... namePrefixes) {
        int[] param = {0};
        return forEachThreadNamed(namePrefixes, tid -> LibC.sched_setscheduler(tid, policy, param) == 0);
    }

    /** sched(7): a real-time policy; such a thread runs ahead of every time-sharing thread. */
    public static final int SCHED_FIFO = 1;

    /**
     * Puts the calling thread in SCHED_FIFO at priority 1, the lowest real-time priority; needs
     * CAP_SYS_NICE or an RLIMIT_RTPRIO of at least 1 (sched_setscheduler(2)). False if refused.
     * Leaving it again ({@link #setPolicy}) needs nothing.
     */
    public static boolean enterRealtime() {
        return enterRealtime(0);      // sched_setscheduler(2): pid 0 is the calling thread
    }

    /** As {@link #enterRealtime()}, for thread {@code tid} of this process. */
    public static boolean enterRealtime(int tid) {
        return LibC.sched_setscheduler(tid, SCHED_FIFO, new int[] {1}) == 0;
    }

    /** Sets the calling thread's scheduling policy (priority 0); false if the kernel refused. */
    public static boolean setPolicy(int policy) {
        return setPolicy(0, policy);
    }

    /** The scheduling policy of thread {@code tid} (SCHED_*), or -1 if the kernel refused. */
    public static int policyOf(int tid) {
        return LibC.sched_getscheduler(tid);
    }

    /** As {@link #setPolicy(int)}, for thread {@code tid} of this process. */
    public static boolean setPolicy(int tid, int policy) {
        return LibC.sched_setscheduler(tid, policy, new int[] {0}) == 0;
    }

    /**
     * Finds out, once, whether a thread of this process may leave SCHED_IDLE once in it
     * (sched_setscheduler(2): CAP_SYS_NICE, or an RLIMIT_NICE that allows the thread's nice
     * value), by trying on a throwaway thread, which may stay stuck in SCHED_IDLE without harm.
     * It can take milliseconds (a thread in SCHED_IDLE runs only on an idle core), so callers
     * probe in the background and read the answer with {@link #idlePolicyReversible()}.
     */
    public static void probeIdlePolicy() {
        if (idleReversible != null) {
            return;
        }
        boolean[] result = {false};
        Thread t = new Thread(() -> result[0] = setPolicy(SCHED_IDLE) && setPolicy(SCHED_OTHER), "sched-idle-probe");
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        idleReversible = result[0];
    }

    /** Whether {@link #probeIdlePolicy()} found SCHED_IDLE reversible; false until it has run. */
    public static boolean idlePolicyReversible() {
        return Boolean.TRUE.equals(idleReversible);
    }

    private static volatile Boolean idleReversible;

    private static int forEachThreadNamed(String[] namePrefixes, java.util.function.IntPredicate action) {
        File[] tasks = new File("/proc/self/task").listFiles();
        int changed = 0;
        for (File task : tasks == null ? new File[0] : tasks) {
            try {
                String name = Files.readString(task.toPath().resolve("comm")).strip();
                for (String prefix : namePrefixes) {
                    if (name.startsWith(prefix) && action.test(Integer.parseInt(task.getName()))) {
                        changed++;
                        break;
                    }
                }
            } catch (IOException | NumberFormatException e) {
                // the thread has ended
            }
        }
        return changed;
    }

    /** This process's id (the thread group id that tgkill(2) needs). */
    public static int processId() {
        return LibC.getpid();
    }
}
