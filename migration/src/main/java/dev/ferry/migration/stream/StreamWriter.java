package dev.ferry.migration.stream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.zip.CRC32C;

/**
 * Writes a migration stream to a channel. Payloads may be direct buffers over guest memory; they
 * are staged off-heap and written with one gathering write per record, never through the Java
 * heap.
 */
public final class StreamWriter {

    private final WritableByteChannel out;
    private final ByteBuffer header = ByteBuffer.allocateDirect(StreamFormat.RECORD_HEADER_SIZE);
    private final ByteBuffer trailer = ByteBuffer.allocateDirect(StreamFormat.RECORD_TRAILER_SIZE);
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer[] gather = new ByteBuffer[3];
    private ByteBuffer staging = ByteBuffer.allocateDirect(64 * 1024);
    private long written;

    public StreamWriter(WritableByteChannel out) {
        this.out = out;
    }

    public void writeHeader() throws IOException {
        ByteBuffer h = ByteBuffer.allocate(StreamFormat.HEADER_SIZE);
        h.put(StreamFormat.MAGIC).putShort((short) StreamFormat.MAJOR).putShort((short) StreamFormat.MINOR).putInt(0);
        h.flip();
        writeFully(h);
    }

    /**
     * Writes one record whose payload is the concatenation of {@code parts} (positions untouched).
     * The payload is first copied into an off-heap staging buffer: RAM parts are views of memory
     * a running guest may be writing, and the checksum must cover exactly the bytes that go out.
     * (A page changed after the copy is in the dirty log and is sent again.)
     */
    public void writeRecord(RecordType type, int flags, ByteBuffer... parts) throws IOException {
        long length = 0;
        for (ByteBuffer p : parts) {
            length += p.remaining();
        }
        ByteBuffer s = stage(type, length);
        for (ByteBuffer p : parts) {
            s.put(p.duplicate());
        }
        send(type, flags);
    }

    /** Writes one record whose payload stages itself (the same copy as above, see there). */
    public void writeRecord(RecordType type, int flags, StagedPayload payload) throws IOException {
        int length = payload.length();
        ByteBuffer s = stage(type, length);
        payload.stageInto(s);
        if (s.position() != length) {
            throw new IllegalStateException(type + " payload staged " + s.position() + " bytes, announced " + length);
        }
        send(type, flags);
    }

    /** Checks the payload's length against the record's cap and returns the cleared staging buffer. */
    private ByteBuffer stage(RecordType type, long length) {
        if (length > type.maxPayload()) {
            throw new IllegalArgumentException(type + " payload of " + length + " bytes exceeds " + type.maxPayload());
        }
        if (staging.capacity() < length) {
            staging = ByteBuffer.allocateDirect((int) Math.max(length, Math.min(2L * staging.capacity(),
                    RecordType.PAGE_STATE.maxPayload())));
        }
        staging.clear();
        return staging;
    }

    /** Sends the staged payload (position = its length) as one record: header, payload, CRC32C. */
    private void send(RecordType type, int flags) throws IOException {
        staging.flip();
        int length = staging.remaining();
        header.clear();
        header.putShort((short) type.code()).putShort((short) flags).putInt(length).flip();
        crc.reset();
        crc.update(header.duplicate());
        crc.update(staging.duplicate());
        trailer.clear();
        trailer.putInt((int) crc.getValue()).flip();
        if (out instanceof GatheringByteChannel g) {
            long left = length + StreamFormat.RECORD_HEADER_SIZE + StreamFormat.RECORD_TRAILER_SIZE;
            gather[0] = header;
            gather[1] = staging;
            gather[2] = trailer;
            while (left > 0) {
                long n = g.write(gather);
                written += n;
                left -= n;
            }
        } else {
            writeFully(header);
            writeFully(staging);
            writeFully(trailer);
        }
    }

    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            written += out.write(b);
        }
    }

    public long bytesWritten() {
        return written;
    }
}
