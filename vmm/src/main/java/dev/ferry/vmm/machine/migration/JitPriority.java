package dev.ferry.vmm.machine.migration;

import dev.ferry.vmm.Log;
import dev.ferry.vmm.os.Threads;

/**
 * Puts the JVM's JIT compiler threads below the migration's own threads, at nice 10, once a
 * migration starts (source and target), for the rest of the process's life.
 *
 * <p>Why: a live migration makes new code hot in both VMMs, and HotSpot compiles it on its
 * compiler threads while the migration runs, switchover included. On a small host those threads
 * take the cores from the migration threads exactly when the guest is stopped: measured on the
 * 2-core development machine (1 GiB guest, idle, docs/benchmarks.md), records reached the target
 * 4-12 ms late and the pause was 13-19 ms; with the compilers niced the records arrive at once
 * and the pause is 10-17 ms, and the whole migration is ~15% shorter. Compilation still uses
 * every idle cycle. Raising the priority again later would need CAP_SYS_NICE, so it stays low:
 * after a migration the target runs a guest whose vCPUs should come first anyway.
 */
final class JitPriority {
    private JitPriority() {}

    static final int NICE = 10;
    /** HotSpot's compiler thread names as the kernel keeps them (15 characters). */
    private static final String[] COMPILER_THREADS = {"C1 CompilerThre", "C2 CompilerThre"};

    static void lower() {
        int n = Threads.lowerPriorityOf(NICE, COMPILER_THREADS);
        Log.debug("migration: " + n + " JIT compiler threads now at nice " + NICE);
    }
}
