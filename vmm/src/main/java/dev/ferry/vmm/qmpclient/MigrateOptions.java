package dev.ferry.vmm.qmpclient;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The command line of {@code ferry migrate}. Optional numbers are null when not given: only
 * what the operator asked for is sent to the source with migrate-set-parameters.
 */
record MigrateOptions(String from, String to, String uri, boolean multifd, Integer channels, boolean autoConverge,
                      Long downtimeLimitMillis, Long maxBandwidth, Progress progress, boolean paused) {

    /** How progress is shown: AUTO is a bar on a terminal and lines otherwise. */
    enum Progress { AUTO, BAR, LINES, NONE }

    /** QEMU's bounds (migration/options.c, migrate_params_check). */
    static final long MAX_DOWNTIME_LIMIT = 2_000_000;
    static final int MAX_CHANNELS = 255;

    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(?:([kmgt])(?:i?b)?|b)?(?:/s)?");

    /** Whether the command line asks for the help text (anywhere in it, as most tools do). */
    static boolean wantsHelp(String[] args) {
        for (String a : args) {
            if (a.equals("-h") || a.equals("--help") || a.equals("-help")) {
                return true;
            }
        }
        return false;
    }

    /** Parses the arguments after "migrate"; an IllegalArgumentException says what is wrong. */
    static MigrateOptions parse(String[] args) {
        String from = null;
        String to = null;
        String uri = null;
        boolean multifd = false;
        Integer channels = null;
        boolean autoConverge = false;
        Long downtime = null;
        Long bandwidth = null;
        Progress progress = Progress.AUTO;
        boolean paused = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String name = a;
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                name = a.substring(0, eq);
                value = a.substring(eq + 1);
            }
            switch (name) {
                case "--multifd", "--auto-converge", "--paused" -> {
                    if (value != null) {
                        throw new IllegalArgumentException(name + " takes no value");
                    }
                    if (name.equals("--multifd")) {
                        multifd = true;
                    } else if (name.equals("--auto-converge")) {
                        autoConverge = true;
                    } else {
                        paused = true;
                    }
                    continue;
                }
                case "--from", "--to", "--uri", "--channels", "--downtime-limit", "--max-bandwidth", "--progress" -> {
                    if (value == null) {
                        if (i + 1 >= args.length) {
                            throw new IllegalArgumentException(name + " needs a value");
                        }
                        value = args[++i];
                    }
                }
                default -> throw new IllegalArgumentException(a.startsWith("-")
                        ? "unknown option '" + a + "'" : "unexpected argument '" + a + "'");
            }
            switch (name) {
                case "--from" -> from = monitor(name, value);
                case "--to" -> to = monitor(name, value);
                case "--uri" -> uri = migrationUri(value);
                case "--channels" -> channels = (int) number(name, value, 1, MAX_CHANNELS);
                case "--downtime-limit" -> downtime = number(name, value, 0, MAX_DOWNTIME_LIMIT);
                case "--max-bandwidth" -> bandwidth = size(name, value);
                default -> progress = progress(value);
            }
        }
        if (from == null || to == null) {
            throw new IllegalArgumentException("--from and --to are required");
        }
        if (from.equals(to)) {
            throw new IllegalArgumentException("--from and --to name the same monitor");
        }
        if (channels != null && !multifd) {
            throw new IllegalArgumentException("--channels needs --multifd");
        }
        if (uri == null && (from.startsWith("tcp:") || to.startsWith("tcp:"))) {
            throw new IllegalArgumentException("without --uri the migration channel is passed to both VMMs as a "
                    + "file descriptor, which needs unix socket monitors; give --uri tcp:HOST:PORT or unix:PATH");
        }
        return new MigrateOptions(from, to, uri, multifd, channels, autoConverge, downtime, bandwidth, progress,
                paused);
    }

    private static String monitor(String option, String value) {
        if (value.isEmpty()) {
            throw new IllegalArgumentException(option + " needs a monitor: a unix socket path or tcp:HOST:PORT");
        }
        if (value.startsWith("tcp:")) {
            String hp = value.substring(4);
            int c = hp.lastIndexOf(':');
            if (c <= 0 || !hp.substring(c + 1).matches("\\d{1,5}")) {
                throw new IllegalArgumentException(option + ": expected tcp:HOST:PORT, got '" + value + "'");
            }
        }
        return value;
    }

    /** tcp:HOST:PORT or unix:PATH: the transports that have a target to listen. */
    static String migrationUri(String value) {
        if (value.startsWith("tcp:")) {
            String hp = value.substring(4);
            int c = hp.lastIndexOf(':');
            if (c <= 0 || !hp.substring(c + 1).matches("\\d{1,5}") || Integer.parseInt(hp.substring(c + 1)) > 65535) {
                throw new IllegalArgumentException("--uri: expected tcp:HOST:PORT, got '" + value + "'");
            }
            return value;
        }
        if (value.startsWith("unix:") && value.length() > 5) {
            return value;
        }
        throw new IllegalArgumentException("--uri must be tcp:HOST:PORT or unix:PATH, got '" + value + "'"
                + " (without --uri a socket pair is passed to both VMMs)");
    }

    private static long number(String option, String value, long min, long max) {
        long n;
        try {
            n = Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " expects a number, got '" + value + "'");
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(option + " must be between " + min + " and " + max + ", got " + n);
        }
        return n;
    }

    /**
     * A size in bytes with an optional binary suffix, as QEMU reads sizes: 1G = 1024^3; "512M",
     * "1.5G", "100KiB", "64MB/s" and plain "1048576" are accepted.
     */
    static long size(String option, String value) {
        Matcher m = SIZE.matcher(value.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(option + " expects a size such as 1G, 512M or 1048576, got '"
                    + value + "'");
        }
        int shift = m.group(2) == null ? 0 : switch (m.group(2)) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            default -> 40;
        };
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(1L << shift));
        if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException(option + ": " + value + " is too large");
        }
        return bytes.longValue();
    }

    private static Progress progress(String value) {
        return switch (value) {
            case "bar" -> Progress.BAR;
            case "lines" -> Progress.LINES;
            case "none" -> Progress.NONE;
            case "auto" -> Progress.AUTO;
            default -> throw new IllegalArgumentException("--progress is bar, lines, none or auto, got '"
                    + value + "'");
        };
    }
}
