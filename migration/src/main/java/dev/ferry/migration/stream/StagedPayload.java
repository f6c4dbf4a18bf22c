package dev.ferry.migration.stream;

import java.nio.ByteBuffer;

/**
 * A record payload that copies itself into the writer's off-heap staging buffer, for payloads
 * made of many small pieces (a RAM record's pages): no buffer object per piece.
 */
public interface StagedPayload {

    /** The payload's length in bytes. */
    int length();

    /** Puts exactly {@link #length()} bytes at {@code staging}'s position, advancing it. */
    void stageInto(ByteBuffer staging);
}
