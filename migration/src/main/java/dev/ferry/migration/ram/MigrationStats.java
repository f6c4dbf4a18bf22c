package dev.ferry.migration.ram;

/**
 * The RAM figures of QEMU's query-migrate ("ram": transferred, remaining, total, duplicate,
 * normal, normal-bytes, dirty-pages-rate, mbps, dirty-sync-count, pages-per-second) plus the
 * timings (setup-time, total-time, downtime, expected-downtime) and the throttle.
 */
public record MigrationStats(long transferred, long remaining, long total, long duplicate, long normal,
                             long normalBytes, long dirtyPagesRate, double mbps, long dirtySyncCount,
                             long pagesPerSecond, long expectedDowntimeMillis, long downtimeMillis,
                             long totalTimeMillis, int passes, int throttlePercent) {}
