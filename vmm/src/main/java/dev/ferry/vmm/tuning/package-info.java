/**
 * JVM warm-up and host-scheduler measures for a live migration's downtime, not part of the
 * domain: each keeps the JVM or the kernel's scheduler from taking time while the guest runs
 * nowhere, and each says in its comment what it was measured to save.
 *
 * <ul>
 *   <li>{@link MigrationRehearsal}: runs the migration code once before any
 *       real migration, so that the JIT has compiled it (and self-checks it).</li>
 *   <li>{@link EdenHeadroom}: keeps a young collection out of the
 *       switchover by making room in the eden while the guest still runs.</li>
 *   <li>{@link RealtimePriority}: runs a switchover thread in SCHED_FIFO
 *       while the guest is stopped, ahead of time-sharing threads.</li>
 *   <li>{@link JitPriority}: keeps the JIT compiler threads off the
 *       migration's cores while it runs.</li>
 *   <li>{@link DebugTimeline}: debug stamps kept in memory, for stretches
 *       a log line would distort.</li>
 * </ul>
 *
 * <p>It depends only on {@code os}, {@code Log} and the JVM, so that every layer above may use it.
 */
package dev.ferry.vmm.tuning;
