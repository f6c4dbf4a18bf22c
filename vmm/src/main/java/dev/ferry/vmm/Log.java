package dev.ferry.vmm;

import java.io.PrintStream;

/**
 * Ferry's messages to the operator, on standard error, prefixed like QEMU's
 * ("ferry: ..."). Deliberately tiny: java.util.logging costs startup time and the VMM's
 * standard output may carry the guest's serial console.
 */
public final class Log {
    private static final PrintStream ERR = System.err;
    private static volatile boolean debug = Boolean.getBoolean("ferry.debug");

    private Log() {}

    public static void info(String message) {
        ERR.println("ferry: " + message);
    }

    public static void warn(String message) {
        ERR.println("ferry: warning: " + message);
    }

    public static void error(String message) {
        ERR.println("ferry: error: " + message);
    }

    public static void debug(String message) {
        if (debug) {
            debugAt(System.nanoTime(), message);
        }
    }

    /** A debug line stamped with {@code nanoTime} (a System.nanoTime() taken earlier). */
    public static void debugAt(long nanoTime, String message) {
        // CLOCK_MONOTONIC (System.nanoTime on Linux): comparable between processes on one host.
        long us = nanoTime / 1000;
        ERR.println(String.format("ferry: debug: [%d.%06d] %s", us / 1_000_000, us % 1_000_000, message));
    }

    public static boolean debugEnabled() {
        return debug;
    }

    public static void setDebug(boolean on) {
        debug = on;
    }
}
