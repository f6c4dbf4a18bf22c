package dev.ferry.vmm.machine;

import java.nio.file.Path;

/** Where the guest's 16550 UART goes (QEMU's -serial backends that Ferry supports). */
public sealed interface SerialConfig {

    /** The VMM's standard output (and input). */
    record Stdio() implements SerialConfig {}

    /** Output appended to a file. */
    record File(Path path) implements SerialConfig {}

    /** A unix socket: listening ({@code server=on}) or connecting to one. */
    record UnixSocket(Path path, boolean server) implements SerialConfig {}

    /** Discarded ({@code -serial none} or {@code null}). */
    record Discard() implements SerialConfig {}
}
