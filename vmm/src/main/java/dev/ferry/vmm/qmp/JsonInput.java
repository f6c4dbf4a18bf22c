package dev.ferry.vmm.qmp;

/** What the framer makes of the byte stream: one complete JSON text, or an input error. */
public sealed interface JsonInput {

    /** One top-level JSON value, as UTF-8 bytes (not yet validated beyond its structure). */
    record Text(byte[] utf8) implements JsonInput {}

    /** The input could not be framed; QEMU answers these with a GenericError without an id. */
    record Error(String description) implements JsonInput {}
}
