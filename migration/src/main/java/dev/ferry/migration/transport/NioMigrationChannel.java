package dev.ferry.migration.transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;

/**
 * A migration channel over a java.nio channel (socket, file, or the VMM's channel over a raw
 * descriptor): reads and gathering writes go straight to it; aborting closes it, which wakes
 * every thread blocked on an interruptible channel.
 */
public abstract class NioMigrationChannel<C extends ByteChannel & GatheringByteChannel> implements MigrationChannel {

    protected final C channel;
    private final String description;

    protected NioMigrationChannel(C channel, String description) {
        this.channel = channel;
        this.description = description;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return channel.read(dst);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return channel.write(src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        return channel.write(srcs, offset, length);
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return channel.write(srcs);
    }

    @Override
    public void abort() {
        try {
            channel.close();
        } catch (IOException e) {
            // already closed
        }
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
