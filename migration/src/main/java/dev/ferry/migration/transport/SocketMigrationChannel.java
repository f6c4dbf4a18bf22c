package dev.ferry.migration.transport;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/** A migration connection over a TCP or unix-domain socket (java.nio, blocking). */
final class SocketMigrationChannel implements MigrationChannel {

    private final SocketChannel socket;
    private final String description;

    SocketMigrationChannel(SocketChannel socket, String description) {
        this.socket = socket;
        this.description = description;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return socket.read(dst);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return socket.write(src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        return socket.write(srcs, offset, length);
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return socket.write(srcs);
    }

    @Override
    public void abort() {
        try {
            // Closing an interruptible channel wakes every thread blocked on it.
            socket.close();
        } catch (IOException e) {
            // already closed
        }
    }

    @Override
    public void finishOutput() throws IOException {
        socket.shutdownOutput();
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public boolean isOpen() {
        return socket.isOpen();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
