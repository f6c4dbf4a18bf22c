package dev.ferry.migration.ram;

import dev.ferry.migration.stream.RecordType;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Where the engine's records go (a StreamWriter over a transport). */
@FunctionalInterface
public interface RecordSink {
    /** Writes one record of {@code type} with {@code flags} (RecordType.knownFlags), the parts in order. */
    void write(RecordType type, int flags, ByteBuffer... parts) throws IOException;

    /** Writes one record of {@code type} without flags. */
    default void write(RecordType type, ByteBuffer... parts) throws IOException {
        write(type, 0, parts);
    }

    /**
     * Writes {@code batch} as one RAM record. The batch is the engine's again when this returns
     * (it is cleared and refilled): a sink that sends later copies its entries first. This
     * default makes buffer views of the pages; a stream sink stages the batch itself instead
     * (no object per page).
     */
    default void writePages(PageBatch batch) throws IOException {
        write(RecordType.RAM, batch.encode());
    }
}
