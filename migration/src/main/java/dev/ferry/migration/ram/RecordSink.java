package dev.ferry.migration.ram;

import dev.ferry.migration.stream.RecordType;

import java.io.IOException;
import java.nio.ByteBuffer;

/** Where the engine's records go (a StreamWriter over a transport). */
@FunctionalInterface
public interface RecordSink {
    void write(RecordType type, ByteBuffer... parts) throws IOException;
}
