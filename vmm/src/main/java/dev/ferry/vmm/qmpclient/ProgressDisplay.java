package dev.ferry.vmm.qmpclient;

import java.io.Console;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Shows successive query-migrate figures: a bar redrawn in place with '\r' (padded over the
 * previous one), or a line per second, or nothing.
 */
final class ProgressDisplay {

    static final long LINE_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final int DEFAULT_WIDTH = 80;

    private final PrintStream out;
    private final MigrateOptions.Progress mode;
    private final int width;
    private int shown;                 // characters of the bar on the screen; 0 when none
    private long lastLineNanos;
    private String lastStatus = "";

    ProgressDisplay(PrintStream out, MigrateOptions.Progress mode, int width) {
        this.out = out;
        this.mode = mode;
        this.width = width;
    }

    /** AUTO resolved: a bar on a terminal, lines otherwise. */
    static MigrateOptions.Progress resolve(MigrateOptions.Progress requested) {
        if (requested != MigrateOptions.Progress.AUTO) {
            return requested;
        }
        return onTerminal() ? MigrateOptions.Progress.BAR : MigrateOptions.Progress.LINES;
    }

    /**
     * Whether stdin and stdout are a terminal: before Java 22 that is what a non-null console
     * means; from 22 on, Console.isTerminal says it.
     */
    static boolean onTerminal() {
        Console c = System.console();
        if (c == null) {
            return false;
        }
        try {
            return (Boolean) Console.class.getMethod("isTerminal").invoke(c);
        } catch (ReflectiveOperationException e) {
            return true;
        }
    }

    /** The terminal's columns: $COLUMNS if exported, else what stty reports, else 80. */
    static int terminalWidth() {
        try {
            int n = Integer.parseInt(System.getenv().getOrDefault("COLUMNS", ""));
            if (n > 20) {
                return n;
            }
        } catch (NumberFormatException e) {
            // not exported: ask the terminal
        }
        try {
            Process p = new ProcessBuilder("stty", "size").redirectInput(new File("/dev/tty"))
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String[] rowsCols = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim()
                    .split("\\s+");
            if (p.waitFor(2, TimeUnit.SECONDS) && rowsCols.length == 2 && Integer.parseInt(rowsCols[1]) > 20) {
                return Integer.parseInt(rowsCols[1]);
            }
        } catch (IOException | NumberFormatException e) {
            // no terminal to ask
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return DEFAULT_WIDTH;
    }

    void update(MigrationFigures f, long elapsedMillis, long nowNanos) {
        switch (mode) {
            case BAR -> {
                String line = MigrationProgress.bar(f, width);
                out.print("\r" + line + " ".repeat(Math.max(0, shown - line.length())));
                out.flush();
                shown = Math.max(1, line.length());
            }
            case LINES -> {
                if (!f.status().equals(lastStatus) || nowNanos - lastLineNanos >= LINE_INTERVAL_NANOS) {
                    out.println(MigrationProgress.line(f, elapsedMillis));
                    lastLineNanos = nowNanos;
                    lastStatus = f.status();
                }
            }
            default -> { }
        }
    }

    /** Ends the bar's line, so that a message or the statistics start on a line of their own. */
    void endLine() {
        if (shown > 0) {
            out.println();
            shown = 0;
        }
    }
}
