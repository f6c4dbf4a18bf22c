package dev.ferry.migration.stream;

/**
 * The incoming stream is not acceptable. The message names what was wrong, the record and the
 * byte offset in the stream, so an operator can tell a corrupted link from a version mismatch.
 */
public class StreamException extends Exception {
    private final long offset;

    public StreamException(String message, long offset) {
        super(message + " (at stream offset " + offset + ")");
        this.offset = offset;
    }

    public long offset() {
        return offset;
    }
}
