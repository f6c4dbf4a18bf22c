package dev.ferry.vmm.machine.migration;

import dev.ferry.vmm.Log;
import dev.ferry.vmm.os.Threads;

/**
 * Keeps the JVM's JIT compiler threads off the cores the migration needs (source and target).
 *
 * <p>Why: a live migration makes new code hot in both VMMs, and HotSpot compiles it on its
 * compiler threads while the migration runs, switchover included. On a small host those threads
 * take the cores from the migration threads exactly when the guest is stopped. At nice 10
 * (measured on the 2-core development machine, 1 GiB idle guest, docs/benchmarks.md) they got
 * less CPU but still cost the switchover milliseconds: a core running a niced compiler is not
 * idle, so the kernel placed each thread woken by the stream (the target's receiver, its control
 * thread, the source's return path) on the core of the thread that woke it, and the two VMMs'
 * switchover threads took turns on one core while a compiler had the other. Under SCHED_IDLE a
 * core running only compilers counts as idle when a woken thread is placed, and any other thread
 * preempts them at once; they still use every idle cycle.
 *
 * <p>After the migration they go back to the normal policy at nice 10 (the guest's vCPUs should
 * come first anyway). Leaving SCHED_IDLE needs CAP_SYS_NICE or a permissive RLIMIT_NICE
 * ({@link Threads#idlePolicyReversible()}); a process without either keeps them at nice 10 only,
 * so that they are never starved for the rest of its life.
 */
final class JitPriority {
    private JitPriority() {}

    static final int NICE = 10;
    /** HotSpot's compiler thread names as the kernel keeps them (15 characters). */
    private static final String[] COMPILER_THREADS = {"C1 CompilerThre", "C2 CompilerThre"};

    /** When a migration starts. */
    static void yieldToMigration() {
        int n = Threads.lowerPriorityOf(NICE, COMPILER_THREADS);
        if (Threads.idlePolicyReversible()) {
            n = Threads.setPolicyOf(Threads.SCHED_IDLE, COMPILER_THREADS);
            Log.debug("migration: " + n + " JIT compiler threads now SCHED_IDLE");
        } else {
            Log.debug("migration: " + n + " JIT compiler threads now at nice " + NICE);
        }
    }

    /** When the migration has ended, whatever its outcome. */
    static void afterMigration() {
        if (Threads.idlePolicyReversible()) {
            int n = Threads.setPolicyOf(Threads.SCHED_OTHER, COMPILER_THREADS);
            Log.debug("migration: " + n + " JIT compiler threads back to the normal policy at nice " + NICE);
        }
    }
}
