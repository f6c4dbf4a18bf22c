package dev.ferry.migration.stream;

import java.nio.ByteBuffer;

/** One record read from a stream: its type, flags, payload, and where it started. */
public record Record(RecordType type, int flags, ByteBuffer payload, long offset) {}
