package dev.ferry.vmm.tuning;

import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.os.Threads;

/**
 * Keeps the JVM's JIT compiler threads off the cores the migration needs (source and target).
 *
 * <p>Why: a live migration makes new code hot in both VMMs, and HotSpot compiles it on its
 * compiler threads while the migration runs, switchover included. On a small host those threads
 * take the cores from the migration threads exactly when the guest is stopped. At nice 10
 * they got less CPU but still held one core at the switchover (`perf sched`, 2-core development
 * machine, 1 GiB idle guest) while both VMMs' switchover threads took turns on the other. Under
 * SCHED_IDLE any other thread preempts them at once, and a core running only them may count as
 * idle when the kernel places a woken thread; they still use every idle cycle (5 runs each:
 * downtime 6-14 -> 6-8 ms, docs/migration.md).
 *
 * <p>After the migration they go back to the normal policy at nice 10 (the guest's vCPUs should
 * come first anyway). Leaving SCHED_IDLE needs CAP_SYS_NICE or a permissive RLIMIT_NICE
 * ({@link Threads#idlePolicyReversible()}); a process without either keeps them at nice 10 only,
 * so that they are never starved for the rest of its life.
 */
public final class JitPriority {
    private JitPriority() {}

    public static final int NICE = 10;
    /** HotSpot's compiler thread names as the kernel keeps them (15 characters). */
    private static final String[] COMPILER_THREADS = {"C1 CompilerThre", "C2 CompilerThre"};

    /** When a migration starts. */
    public static void yieldToMigration() {
        boolean idle = Threads.idlePolicyReversible();
        int n = Threads.lowerPriorityOf(NICE, idle ? Threads.SCHED_IDLE : Threads.SCHED_OTHER, COMPILER_THREADS);
        Log.debug("migration: " + n + " JIT compiler threads now " + (idle ? "SCHED_IDLE" : "at nice " + NICE));
    }

    /** When the migration has ended, whatever its outcome. */
    public static void afterMigration() {
        if (Threads.idlePolicyReversible()) {
            int n = Threads.setPolicyOf(Threads.SCHED_OTHER, COMPILER_THREADS);
            Log.debug("migration: " + n + " JIT compiler threads back to the normal policy at nice " + NICE);
        }
    }
}
