package dev.ferry.vmm.qmpclient;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What a source's query-migrate reports (qapi/migration.json, MigrationInfo and MigrationStats),
 * as plain numbers: zero where a field is absent (before the first pages, or after completion
 * for expected-downtime).
 */
record MigrationFigures(String status, long totalTimeMillis, long setupTimeMillis, long downtimeMillis,
                        long expectedDowntimeMillis, boolean hasRam, long transferred, long remaining, long total,
                        long duplicatePages, long normalPages, double mbps, long dirtyPagesRate,
                        long dirtySyncCount, long pageSize, int throttlePercent, String errorDesc) {

    static final long DEFAULT_PAGE_SIZE = 4096;

    static MigrationFigures of(JsonNode info) {
        JsonNode ram = info.path("ram");
        long pageSize = ram.path("page-size").asLong(0);
        return new MigrationFigures(info.path("status").asText("none"), info.path("total-time").asLong(0),
                info.path("setup-time").asLong(0), info.path("downtime").asLong(0),
                info.path("expected-downtime").asLong(0), ram.isObject(), ram.path("transferred").asLong(0),
                ram.path("remaining").asLong(0), ram.path("total").asLong(0), ram.path("duplicate").asLong(0),
                ram.path("normal").asLong(0), ram.path("mbps").asDouble(0), ram.path("dirty-pages-rate").asLong(0),
                ram.path("dirty-sync-count").asLong(0), pageSize > 0 ? pageSize : DEFAULT_PAGE_SIZE,
                info.path("cpu-throttle-percentage").asInt(0),
                info.hasNonNull("error-desc") ? info.get("error-desc").asText() : null);
    }

    boolean finished() {
        return status.equals("completed") || status.equals("failed") || status.equals("cancelled");
    }

    /**
     * The pass over RAM being sent, counted from 1. Ferry synchronises the dirty log at the end
     * of each pass, so while copying the pass is dirty-sync-count + 1; after completion
     * dirty-sync-count counts every pass, the last one (with the guest stopped) included.
     */
    long pass() {
        return status.equals("completed") ? dirtySyncCount : dirtySyncCount + 1;
    }

    /**
     * How much of the first pass is done, 0-100: pages sent (zero pages as markers included) over
     * the RAM's pages. Later passes only add to the count, so it stays at 100 after the first.
     */
    int firstPassPercent() {
        if (total <= 0) {
            return 0;
        }
        double sent = (double) (duplicatePages + normalPages) * pageSize;
        return (int) Math.max(0, Math.min(100, Math.floor(sent * 100 / total)));
    }

    /** ram.dirty-pages-rate in bytes per second. */
    long dirtyBytesPerSecond() {
        return dirtyPagesRate * pageSize;
    }
}
