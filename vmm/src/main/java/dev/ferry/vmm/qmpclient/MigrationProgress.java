package dev.ferry.vmm.qmpclient;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How {@code ferry migrate} shows a migration: a one-line bar for a terminal, plain lines for
 * logs, and the final statistics. Pure functions of query-migrate's figures.
 */
final class MigrationProgress {

    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;
    /** Cells of the bar on a terminal of at least {@link #WIDE} columns, and on a narrower one. */
    static final int BAR_CELLS = 20;
    static final int NARROW_BAR_CELLS = 10;
    static final int WIDE = 120;

    private MigrationProgress() {}

    /** Bytes in MiB below 1 GiB, else in GiB: "0.0 MiB", "96.0 MiB", "1.50 GiB". */
    static String size(long bytes) {
        if (Math.abs(bytes) >= GIB) {
            return String.format(Locale.ROOT, "%.2f GiB", (double) bytes / GIB);
        }
        return String.format(Locale.ROOT, "%.1f MiB", (double) bytes / MIB);
    }

    /** query-migrate's mbps (megabits per second) as megabytes per second. */
    static String throughput(double mbps) {
        return String.format(Locale.ROOT, "%.1f MB/s", mbps / 8);
    }

    /** A rate in bytes per second, in MiB/s or GiB/s. */
    static String rate(long bytesPerSecond) {
        return size(bytesPerSecond) + "/s";
    }

    /** "[#####.....]" with {@code cells} cells filled in proportion to {@code percent}. */
    static String gauge(int percent, int cells) {
        int filled = Math.max(0, Math.min(cells, percent * cells / 100));
        return "[" + "#".repeat(filled) + ".".repeat(cells - filled) + "]";
    }

    /**
     * The single line redrawn on a terminal, at most {@code width} - 1 characters (a full line
     * wraps on some terminals). Fields that do not fit are left out from the end; they come in
     * order of importance: progress, throughput, expected downtime, throttle, dirty rate.
     */
    static String bar(MigrationFigures f, int width) {
        if (ended(f)) {
            return fit(List.of(f.status()), width);
        }
        if (!f.hasRam()) {
            return fit(List.of(phase(f) + ": waiting for the first pages"), width);
        }
        int cells = width >= WIDE ? BAR_CELLS : NARROW_BAR_CELLS;
        List<String> fields = new ArrayList<>();
        fields.add(phase(f) + " " + gauge(f.firstPassPercent(), cells)
                + String.format(Locale.ROOT, " %3d%%", f.firstPassPercent()));
        fields.add(sizes(f.transferred(), f.total()));
        fields.add(throughput(f.mbps()));
        boolean copying = !f.status().equals("completed");
        if (copying) {
            fields.add("downtime ~" + f.expectedDowntimeMillis() + " ms");
        }
        if (f.throttlePercent() > 0) {
            fields.add("throttle " + f.throttlePercent() + "%");
        }
        if (copying) {
            fields.add("dirty " + rate(f.dirtyBytesPerSecond()));
        }
        return fit(fields, width);
    }

    /** "12.0 / 96.0 MiB", or "120.0 MiB / 1.00 GiB" when the units differ. */
    static String sizes(long part, long whole) {
        String a = size(part);
        String b = size(whole);
        String unitA = a.substring(a.indexOf(' '));
        return unitA.equals(b.substring(b.indexOf(' '))) ? a.substring(0, a.indexOf(' ')) + " / " + b : a + " / " + b;
    }

    private static String fit(List<String> fields, int width) {
        StringBuilder b = new StringBuilder();
        for (String field : fields) {
            int len = b.length() == 0 ? field.length() : b.length() + 2 + field.length();
            if (len > width - 1) {
                break;
            }
            b.append(b.length() == 0 ? "" : "  ").append(field);
        }
        if (b.length() == 0 && !fields.isEmpty()) {
            String first = fields.get(0);
            return first.substring(0, Math.max(0, Math.min(first.length(), width - 1)));
        }
        return b.toString();
    }

    /** Failed or cancelled: the figures no longer mean anything to the operator. */
    private static boolean ended(MigrationFigures f) {
        return f.status().equals("failed") || f.status().equals("cancelled");
    }

    /** What the migration is doing, for the start of a line. */
    static String phase(MigrationFigures f) {
        return switch (f.status()) {
            case "active" -> "pass " + f.pass();
            case "pre-switchover", "device" -> "switchover";
            case "completed" -> "completed";
            default -> f.status();
        };
    }

    /** One line for a log, every second when the output is not a terminal. */
    static String line(MigrationFigures f, long elapsedMillis) {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "[%6.1f s] ", elapsedMillis / 1000.0));
        b.append(f.status());
        if (!f.hasRam() || ended(f)) {
            return b.toString();
        }
        boolean copying = !f.status().equals("completed");
        if (f.status().equals("active")) {
            b.append(", pass ").append(f.pass());
        }
        b.append(": ").append(sizes(f.transferred(), f.total())).append(" sent");
        if (copying) {
            b.append(", first pass ").append(f.firstPassPercent()).append('%');
        }
        b.append(", ").append(throughput(f.mbps()));
        if (copying) {
            b.append(", dirty ").append(rate(f.dirtyBytesPerSecond()));
            if (f.dirtySyncCount() > 0) {
                b.append(", remaining ").append(size(f.remaining()));
            }
            b.append(", expected downtime ").append(f.expectedDowntimeMillis()).append(" ms");
        }
        if (f.throttlePercent() > 0) {
            b.append(", throttle ").append(f.throttlePercent()).append('%');
        }
        return b.toString();
    }

    /** The statistics printed after a completed migration, one figure per line. */
    static String summary(MigrationFigures f) {
        StringBuilder b = new StringBuilder("Migration completed.\n");
        row(b, "total time", String.format(Locale.ROOT, "%.2f s", f.totalTimeMillis() / 1000.0));
        row(b, "downtime", f.downtimeMillis() + " ms");
        row(b, "setup time", f.setupTimeMillis() + " ms");
        row(b, "transferred", size(f.transferred()) + " (RAM " + size(f.total()) + ")");
        row(b, "throughput", throughput(f.mbps()));
        row(b, "passes", Long.toString(f.pass()));
        row(b, "zero pages", Long.toString(f.duplicatePages()));
        row(b, "normal pages", f.normalPages() + " (" + size(f.normalPages() * f.pageSize()) + ")");
        return b.toString();
    }

    private static void row(StringBuilder b, String name, String value) {
        b.append(String.format(Locale.ROOT, "  %-14s%s\n", name, value));
    }
}
