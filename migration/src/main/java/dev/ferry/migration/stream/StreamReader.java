package dev.ferry.migration.stream;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * Reads a migration stream as hostile input: the header must match, every length is checked
 * against its type's cap before a buffer is allocated, every record's CRC32C is verified, and
 * an unknown record type, a truncated record or a stream that ends before END is an error that
 * names the record and the offset.
 */
public final class StreamReader {

    private final ReadableByteChannel in;
    // Direct, like the payload buffer: a channel over a raw descriptor needs no bounce copy.
    private final ByteBuffer recordHeader = ByteBuffer.allocateDirect(StreamFormat.RECORD_HEADER_SIZE);
    private final ByteBuffer trailer = ByteBuffer.allocateDirect(StreamFormat.RECORD_TRAILER_SIZE);
    private final CRC32C crc = new CRC32C();
    private long offset;
    private boolean ended;
    /** Reused for every payload (grown up to the largest record type's cap, 64 MiB). */
    private ByteBuffer payloadBuffer = ByteBuffer.allocateDirect(64 * 1024);

    public StreamReader(ReadableByteChannel in) {
        this.in = in;
    }

    public void readHeader() throws IOException, StreamException {
        ByteBuffer h = ByteBuffer.allocate(StreamFormat.HEADER_SIZE);
        readFully(h, "stream header");
        h.flip();
        byte[] magic = new byte[StreamFormat.MAGIC.length];
        h.get(magic);
        if (!Arrays.equals(magic, StreamFormat.MAGIC)) {
            throw new StreamException("not a Ferry migration stream (bad magic)", 0);
        }
        int major = Short.toUnsignedInt(h.getShort());
        int minor = Short.toUnsignedInt(h.getShort());
        if (major != StreamFormat.MAJOR) {
            throw new StreamException("stream format version " + major + "." + minor
                    + " is not supported (this Ferry reads " + StreamFormat.MAJOR + ".x)", 8);
        }
    }

    /**
     * The next record; after END, calling again is an error. The payload is valid until the
     * next call (its buffer is reused).
     */
    public Record next() throws IOException, StreamException {
        if (ended) {
            throw new StreamException("read past the END record", offset);
        }
        long start = offset;
        recordHeader.clear();
        readFully(recordHeader, "record header");
        recordHeader.flip();
        int code = Short.toUnsignedInt(recordHeader.getShort(0));
        int flags = Short.toUnsignedInt(recordHeader.getShort(2));
        long length = Integer.toUnsignedLong(recordHeader.getInt(4));
        RecordType type = RecordType.of(code);
        if (type == null) {
            throw new StreamException("unknown record type " + code, start);
        }
        if (type.reserved()) {
            // Before its payload is read: no version reads it yet.
            throw new StreamException(type + " record (type " + code + ") is reserved and not allowed in a stream"
                    + " of format " + StreamFormat.MAJOR + "." + StreamFormat.MINOR, start);
        }
        if (length > type.maxPayload()) {
            throw new StreamException(type + " record claims " + length + " bytes, more than its limit of "
                    + type.maxPayload(), start);
        }
        if (payloadBuffer.capacity() < length) {
            // Only after the length passed its type's cap.
            payloadBuffer = ByteBuffer.allocateDirect((int) Math.max(length,
                    Math.min(2L * payloadBuffer.capacity(), RecordType.PAGE_STATE.maxPayload())));
        }
        ByteBuffer payload = payloadBuffer.clear().limit((int) length);
        readFully(payload, type + " record payload");
        payload.flip();
        trailer.clear();
        readFully(trailer, type + " record checksum");
        crc.reset();
        crc.update(recordHeader.duplicate().rewind());
        crc.update(payload.duplicate());
        int expected = trailer.getInt(0);
        if ((int) crc.getValue() != expected) {
            throw new StreamException(type + " record checksum mismatch", start);
        }
        if ((flags & ~type.knownFlags()) != 0) {
            // After the checksum: a flipped bit is reported as one, not as a strange flag.
            throw new StreamException(type + " record has flags 0x" + Integer.toHexString(flags)
                    + " that this Ferry does not know", start);
        }
        if (type == RecordType.END) {
            ended = true;
        }
        return new Record(type, flags, payload, start);
    }

    private void readFully(ByteBuffer b, String what) throws IOException, StreamException {
        while (b.hasRemaining()) {
            int n = in.read(b);
            if (n < 0) {
                throw new StreamException("stream ended inside the " + what, offset);
            }
            offset += n;
        }
    }

    public long offset() {
        return offset;
    }
}
