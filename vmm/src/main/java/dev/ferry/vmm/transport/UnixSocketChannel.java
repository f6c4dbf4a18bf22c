package dev.ferry.vmm.transport;

import dev.ferry.migration.transport.FdPassingChannel;
import dev.ferry.vmm.os.Errno;
import dev.ferry.vmm.os.LibC;
import dev.ferry.vmm.os.NativeException;
import dev.ferry.vmm.os.UnixSocket;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.List;

/**
 * A migration channel over a connected unix stream socket that carries descriptors next to
 * its bytes: every read is a recvmsg(2), so descriptors the peer attached arrive with their
 * bytes and wait in {@link #takeFds()}. Meant for a local migration's few records (state, and
 * the RAM file's descriptor); each buffer goes in its own send, heap buffers through a copy.
 */
public final class UnixSocketChannel implements FdPassingChannel {

    private final UnixSocket socket;
    private final String description;
    /** A heap buffer is read through this (recvmsg writes native memory). */
    private final ByteBuffer bounce = ByteBuffer.allocateDirect(64 * 1024);
    /** Received and not yet taken: this channel's until then (closed with it). */
    private final List<Integer> received = new ArrayList<>();
    private volatile boolean closed;

    public UnixSocketChannel(UnixSocket socket, String description) {
        this.socket = socket;
        this.description = description;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        checkOpen();
        if (!dst.hasRemaining()) {
            return 0;
        }
        UnixSocket.Received r;
        try {
            if (dst.isDirect()) {
                r = socket.receive(dst);
            } else {
                bounce.clear().limit(Math.min(bounce.capacity(), dst.remaining()));
                r = socket.receive(bounce);
                dst.put(bounce.flip());
            }
        } catch (NativeException e) {
            throw new IOException(description + ": " + e.getMessage(), e);
        }
        synchronized (received) {
            received.addAll(r.fds());
        }
        if (closed) {
            // A read that ended after close() took the descriptors: nobody will take these.
            for (int fd : takeFds()) {
                LibC.close(fd);
            }
        }
        return r.length() == 0 ? -1 : r.length();
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int n = src.remaining();
        send(src);
        return n;
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        long n = 0;
        for (int i = offset; i < offset + length; i++) {
            n += write(srcs[i]);
        }
        return n;
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return write(srcs, 0, srcs.length);
    }

    @Override
    public void writeWithFds(ByteBuffer src, int... fds) throws IOException {
        if (!src.hasRemaining()) {
            throw new IllegalArgumentException("descriptors need at least one byte to travel with");
        }
        send(src, fds);
    }

    private void send(ByteBuffer src, int... fds) throws IOException {
        checkOpen();
        boolean sent;
        try {
            sent = socket.send(src, fds);
        } catch (NativeException e) {
            throw new IOException(description + ": " + e.getMessage(), e);
        }
        if (!sent) {
            int errno = LibC.errno();
            throw new IOException("send on " + description + " failed: " + Errno.describe(errno)
                    + (errno == Errno.EPIPE || errno == Errno.ECONNRESET ? " (the peer closed the connection)" : ""));
        }
    }

    @Override
    public int[] takeFds() {
        synchronized (received) {
            int[] fds = received.stream().mapToInt(Integer::intValue).toArray();
            received.clear();
            return fds;
        }
    }

    private void checkOpen() throws IOException {
        if (closed) {
            throw new ClosedChannelException();
        }
    }

    /** Wakes blocked readers (end of stream) and writers (EPIPE); the socket stays until close. */
    @Override
    public void abort() {
        socket.shutdown();
    }

    @Override
    public void finishOutput() {
        socket.shutdownOutput();
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public boolean isOpen() {
        return !closed;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            socket.close();
            for (int fd : takeFds()) {
                LibC.close(fd);
            }
        }
    }
}
