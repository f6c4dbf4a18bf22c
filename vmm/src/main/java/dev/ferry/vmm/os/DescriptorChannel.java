package dev.ferry.vmm.os;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.GatheringByteChannel;

/**
 * A byte channel over a descriptor the management passed in (QMP getfd, then
 * {@code migrate uri=fd:NAME}): usually a connected socket, possibly a pipe. Blocking reads and
 * writes through libc; direct buffers go to the kernel without a copy, and the three parts of a
 * record go in one sendmsg(2). Sockets are written with MSG_NOSIGNAL so a vanished peer is an
 * EPIPE error, not a signal.
 */
public final class DescriptorChannel implements ByteChannel, GatheringByteChannel {

    static {
        Native.register(DescriptorChannel.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
    }

    private static native long read(int fd, Pointer buf, long count);

    private static native long writev(int fd, Pointer iov, int iovcnt);

    private static native long sendmsg(int fd, Pointer msg, int flags);

    private static native int shutdown(int fd, int how);

    static final int MSG_NOSIGNAL = 0x4000;
    static final int SHUT_WR = 1;
    static final int SHUT_RDWR = 2;
    static final int ENOTSOCK = 88;
    static final int EINTR = 4;
    static final int MAX_IOV = 64;

    private final int fd;
    private final String description;
    private final Memory iov = new Memory(16L * MAX_IOV);
    private final Memory msghdr = new Memory(UnixSocket.MSGHDR_SIZE);
    private final Memory readBounce = new Memory(64 * 1024);
    private final Object writeLock = new Object();
    private boolean socket = true;
    private volatile boolean closed;

    public DescriptorChannel(int fd, String description) {
        this.fd = fd;
        this.description = description;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        checkOpen();
        if (!dst.hasRemaining()) {
            return 0;
        }
        while (true) {
            long n;
            if (dst.isDirect()) {
                n = read(fd, address(dst), dst.remaining());
            } else {
                n = read(fd, readBounce, Math.min(dst.remaining(), readBounce.size()));
                if (n > 0) {
                    byte[] tmp = new byte[(int) n];
                    readBounce.read(0, tmp, 0, (int) n);
                    dst.put(tmp);
                    return (int) n;
                }
            }
            if (n >= 0) {
                if (n == 0) {
                    return -1;
                }
                dst.position(dst.position() + (int) n);
                return (int) n;
            }
            int errno = LibC.errno();
            if (errno != EINTR) {
                throw ioError("read", errno);
            }
        }
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return (int) write(new ByteBuffer[] {src}, 0, 1);
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return write(srcs, 0, srcs.length);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        checkOpen();
        synchronized (writeLock) {
            int count = Math.min(length, MAX_IOV);
            ByteBuffer[] direct = new ByteBuffer[count];
            for (int i = 0; i < count; i++) {
                ByteBuffer b = srcs[offset + i];
                if (!b.isDirect()) {
                    // Small heap buffers (stream header): copied once off-heap.
                    ByteBuffer copy = ByteBuffer.allocateDirect(b.remaining());
                    copy.put(b.duplicate()).flip();
                    b = copy;
                }
                direct[i] = b;
                iov.setPointer(16L * i, address(b));
                iov.setLong(16L * i + 8, b.remaining());
            }
            long n;
            while (true) {
                n = send(count);
                if (n >= 0) {
                    break;
                }
                int errno = LibC.errno();
                if (errno == ENOTSOCK && socket) {
                    socket = false;
                    continue;
                }
                if (errno != EINTR) {
                    throw ioError("write", errno);
                }
            }
            long left = n;
            for (int i = 0; i < count && left > 0; i++) {
                ByteBuffer b = srcs[offset + i];
                int step = (int) Math.min(left, b.remaining());
                b.position(b.position() + step);
                left -= step;
            }
            java.lang.ref.Reference.reachabilityFence(direct);
            return n;
        }
    }

    private long send(int count) {
        if (!socket) {
            return writev(fd, iov, count);
        }
        msghdr.clear();
        msghdr.setPointer(16, iov);
        msghdr.setLong(24, count);
        return sendmsg(fd, msghdr, MSG_NOSIGNAL);
    }

    private static Pointer address(ByteBuffer b) {
        return Native.getDirectBufferPointer(b).share(b.position());
    }

    private void checkOpen() throws IOException {
        if (closed) {
            throw new ClosedChannelException();
        }
    }

    private IOException ioError(String call, int errno) {
        if (closed) {
            return new ClosedChannelException();
        }
        return new IOException(call + " on " + description + ": " + Errno.describe(errno));
    }

    /** Wakes blocked readers and writers (they see end of stream or EPIPE); the fd stays valid until close. */
    public void abort() {
        shutdown(fd, SHUT_RDWR);
    }

    /** Sends end-of-stream after what was written (shutdown(SHUT_WR)); reading goes on. */
    public void finishOutput() {
        shutdown(fd, SHUT_WR);
    }

    @Override
    public boolean isOpen() {
        return !closed;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            shutdown(fd, SHUT_RDWR);
            LibC.close(fd);
        }
    }
}
