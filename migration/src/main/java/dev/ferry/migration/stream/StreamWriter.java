package dev.ferry.migration.stream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.zip.CRC32C;

/**
 * Writes a migration stream to a channel. Payloads may be direct buffers over guest memory:
 * they are written with a gathering write, without copying through the heap.
 */
public final class StreamWriter {

    private final WritableByteChannel out;
    private final ByteBuffer header = ByteBuffer.allocateDirect(StreamFormat.RECORD_HEADER_SIZE);
    private final ByteBuffer trailer = ByteBuffer.allocateDirect(StreamFormat.RECORD_TRAILER_SIZE);
    private final CRC32C crc = new CRC32C();
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

    /** Writes one record whose payload is the concatenation of {@code parts} (positions untouched). */
    public void writeRecord(RecordType type, int flags, ByteBuffer... parts) throws IOException {
        long length = 0;
        for (ByteBuffer p : parts) {
            length += p.remaining();
        }
        if (length > type.maxPayload()) {
            throw new IllegalArgumentException(type + " payload of " + length + " bytes exceeds " + type.maxPayload());
        }
        header.clear();
        header.putShort((short) type.code()).putShort((short) flags).putInt((int) length).flip();
        crc.reset();
        crc.update(header.duplicate());
        for (ByteBuffer p : parts) {
            crc.update(p.duplicate());
        }
        trailer.clear();
        trailer.putInt((int) crc.getValue()).flip();
        ByteBuffer[] all = new ByteBuffer[parts.length + 2];
        all[0] = header;
        for (int i = 0; i < parts.length; i++) {
            all[i + 1] = parts[i].duplicate();
        }
        all[all.length - 1] = trailer;
        for (ByteBuffer b : all) {
            writeFully(b);
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
