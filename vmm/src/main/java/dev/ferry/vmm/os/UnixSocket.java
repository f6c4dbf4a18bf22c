package dev.ferry.vmm.os;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A unix stream socket through libc, for what the JDK's and Netty's socket channels cannot do:
 * receive bytes and SCM_RIGHTS descriptors in the same recvmsg(2), as QMP's getfd needs (a
 * client may attach the descriptor to the command's own bytes). Blocking I/O; each connection
 * is served by its own threads.
 */
public final class UnixSocket implements AutoCloseable {

    static {
        Native.register(UnixSocket.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
    }

    private static native int socket(int domain, int type, int protocol);

    private static native int bind(int fd, Pointer addr, int len);

    private static native int listen(int fd, int backlog);

    private static native int accept4(int fd, Pointer addr, Pointer len, int flags);

    private static native long recvmsg(int fd, Pointer msg, int flags);

    private static native long send(int fd, Pointer buf, long len, int flags);

    private static native long sendmsg(int fd, Pointer msg, int flags);

    private static native int connect(int fd, Pointer addr, int len);

    private static native int shutdown(int fd, int how);

    private static native int chmod(String path, int mode);

    private static native int socketpair(int domain, int type, int protocol, int[] sv);

    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SOL_SOCKET = 1;
    static final int SCM_RIGHTS = 1;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    static final int MSG_NOSIGNAL = 0x4000;
    static final int SHUT_WR = 1;
    static final int SHUT_RDWR = 2;
    /** sizeof(struct sockaddr_un): sa_family_t + sun_path[108]. */
    static final int SOCKADDR_UN_SIZE = 110;
    static final int SUN_PATH_MAX = 107;
    /** struct msghdr on x86-64: name, namelen (+pad), iov, iovlen, control, controllen, flags. */
    static final int MSGHDR_SIZE = 56;
    static final int CMSG_HEADER = 16;
    /**
     * Two connected unix stream sockets (socketpair(2)), close-on-exec; the caller owns both
     * descriptors. Management hands one end to each VMM of an fd: migration.
     */
    public static int[] socketPair() {
        int[] sv = new int[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            throw NativeException.lastError("socketpair");
        }
        return sv;
    }

    /** Descriptors accepted in one message; more are closed by the kernel (MSG_CTRUNC). */
    public static final int MAX_FDS = 16;

    private final int fd;
    private volatile boolean closed;
    private Memory recvControl;
    private Memory recvHeader;

    private UnixSocket(int fd) {
        this.fd = fd;
    }

    /**
     * Takes over {@code fd}, a connected unix stream socket (an end of {@link #socketPair()},
     * or one a peer passed with SCM_RIGHTS): closing this closes it.
     */
    public static UnixSocket of(int fd) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a descriptor: " + fd);
        }
        return new UnixSocket(fd);
    }

    public int fd() {
        return fd;
    }

    /** Binds and listens at {@code path} with mode 0600 (the socket never exists with a wider mode). */
    public static UnixSocket listen(Path path, int backlog) {
        byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
        Path tmp = path.resolveSibling("." + path.getFileName() + ".tmp" + ProcessHandle.current().pid());
        byte[] tmpName = tmp.toString().getBytes(StandardCharsets.UTF_8);
        if (name.length > SUN_PATH_MAX || tmpName.length > SUN_PATH_MAX) {
            throw new NativeException("bind(\"" + path + "\"): path longer than " + SUN_PATH_MAX + " bytes",
                    Errno.ENAMETOOLONG);
        }
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) {
            throw NativeException.lastError("socket(AF_UNIX, SOCK_STREAM)");
        }
        UnixSocket sock = new UnixSocket(s);
        try {
            // Bind under a temporary name, restrict it, then rename into place: no window in
            // which another user could connect to a socket with the umask's wider mode.
            java.nio.file.Files.deleteIfExists(tmp);
            if (bind(s, address(tmpName), SOCKADDR_UN_SIZE) != 0) {
                throw NativeException.lastError("bind(\"" + tmp + "\")");
            }
            if (chmod(tmp.toString(), 0600) != 0) {
                throw NativeException.lastError("chmod(\"" + tmp + "\", 0600)");
            }
            java.nio.file.Files.move(tmp, path, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            if (listen(s, backlog) != 0) {
                throw NativeException.lastError("listen(\"" + path + "\")");
            }
            return sock;
        } catch (java.io.IOException e) {
            sock.close();
            throw new NativeException("bind(\"" + path + "\"): " + e.getMessage(), Errno.EIO);
        } catch (RuntimeException e) {
            sock.close();
            throw e;
        }
    }

    /** Connects to a listening socket at {@code path} (clients: tests, the management CLI). */
    public static UnixSocket connect(Path path) {
        byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
        if (name.length > SUN_PATH_MAX) {
            throw new NativeException("connect(\"" + path + "\"): path longer than " + SUN_PATH_MAX + " bytes",
                    Errno.ENAMETOOLONG);
        }
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) {
            throw NativeException.lastError("socket(AF_UNIX, SOCK_STREAM)");
        }
        if (connect(s, address(name), SOCKADDR_UN_SIZE) != 0) {
            NativeException e = NativeException.lastError("connect(\"" + path + "\")");
            LibC.close(s);
            throw e;
        }
        return new UnixSocket(s);
    }

    /** Sends {@code data} with {@code fds} attached as SCM_RIGHTS, in one sendmsg(2). */
    public void sendWithFds(byte[] data, int... fds) {
        if (data.length == 0) {
            throw new IllegalArgumentException("need 1+ bytes and at most " + MAX_FDS + " descriptors");
        }
        Memory buf = new Memory(data.length);
        buf.write(0, data, 0, data.length);
        sendWithFds(buf, data.length, fds);
        java.lang.ref.Reference.reachabilityFence(buf);
    }

    /**
     * Sends all of {@code src} (from its position, which moves to its limit) with {@code fds}
     * attached to its first byte as SCM_RIGHTS; false if the peer is gone. Without descriptors
     * this is {@link #sendAll}.
     */
    public boolean send(ByteBuffer src, int... fds) {
        int length = src.remaining();
        Pointer data;
        Memory copy = null;
        if (src.isDirect()) {
            data = Native.getDirectBufferPointer(src).share(src.position());
        } else {
            byte[] bytes = new byte[length];
            src.duplicate().get(bytes);
            copy = new Memory(Math.max(1, length));
            copy.write(0, bytes, 0, length);
            data = copy;
        }
        boolean sent = fds.length == 0 ? sendAll(data, length) : sendWithFds(data, length, fds);
        java.lang.ref.Reference.reachabilityFence(src);
        java.lang.ref.Reference.reachabilityFence(copy);
        if (sent) {
            src.position(src.limit());
        }
        return sent;
    }

    /** The first bytes go in one sendmsg(2) with the descriptors, the rest as a stream; false if the peer is gone. */
    private boolean sendWithFds(Pointer data, long length, int[] fds) {
        if (length == 0 || fds.length > MAX_FDS) {
            throw new IllegalArgumentException("need 1+ bytes and at most " + MAX_FDS + " descriptors");
        }
        long controlLen = CMSG_HEADER + 4L * fds.length;
        Memory control = new Memory((controlLen + 7) & ~7L);
        control.clear();
        control.setLong(0, controlLen);
        control.setInt(8, SOL_SOCKET);
        control.setInt(12, SCM_RIGHTS);
        for (int i = 0; i < fds.length; i++) {
            control.setInt(CMSG_HEADER + 4L * i, fds[i]);
        }
        Memory msg = fillHeader(new Memory(MSGHDR_SIZE + 16), data, length, control);
        long n = sendmsg(fd, msg, MSG_NOSIGNAL);
        java.lang.ref.Reference.reachabilityFence(control);
        java.lang.ref.Reference.reachabilityFence(msg);
        if (n < 0) {
            throw NativeException.lastError("sendmsg(fd=" + fd + ", " + fds.length + " fds)");
        }
        return n >= length || sendAll(data.share(n), length - n);
    }

    /**
     * A struct msghdr with its one iovec (over {@code data}) in the same allocation, so nothing the
     * kernel reads can be freed separately; callers keep data and control reachable across the call.
     */
    private static Memory fillHeader(Memory msg, Pointer data, long length, Memory control) {
        msg.clear();
        msg.setPointer(MSGHDR_SIZE, data);
        msg.setLong(MSGHDR_SIZE + 8, length);
        msg.setPointer(16, msg.share(MSGHDR_SIZE));
        msg.setLong(24, 1);
        msg.setPointer(32, control);
        msg.setLong(40, control.size());
        return msg;
    }

    private static Memory address(byte[] path) {
        Memory addr = new Memory(SOCKADDR_UN_SIZE);
        addr.clear();
        addr.setShort(0, (short) AF_UNIX);
        addr.write(2, path, 0, path.length);
        return addr;
    }

    /** Blocks for the next connection; null once the listener is closed. */
    public UnixSocket accept() {
        if (closed) {
            return null;
        }
        int c = accept4(fd, null, null, SOCK_CLOEXEC);
        if (c < 0) {
            if (closed) {
                return null;
            }
            int errno = LibC.errno();
            if (errno == Errno.EINTR || errno == Errno.ECONNABORTED) {
                return accept();
            }
            throw new NativeException("accept4(fd=" + fd + ")", errno);
        }
        return new UnixSocket(c);
    }

    /** What one recvmsg returned: byte count (0 at end of stream) and descriptors, in order. */
    public record Received(int length, List<Integer> fds) {}

    /**
     * Reads into {@code buffer} (native memory of at least {@code capacity} bytes) with room for
     * {@link #MAX_FDS} descriptors, received with close-on-exec set.
     */
    public Received receive(Pointer buffer, int capacity) {
        if (closed) {
            return new Received(0, List.of());
        }
        // One header and control buffer per socket, reused: receive() is called by one reader
        // thread, and allocating native memory per call costs GC time (JNA's cleaners).
        if (recvControl == null) {
            recvControl = new Memory(CMSG_HEADER + 4L * MAX_FDS);
            recvHeader = new Memory(MSGHDR_SIZE + 16);
        }
        Memory control = recvControl;
        control.clear();
        Memory msg = fillHeader(recvHeader, buffer, capacity, control);
        long n;
        do {
            n = recvmsg(fd, msg, MSG_CMSG_CLOEXEC);
        } while (n < 0 && LibC.errno() == Errno.EINTR && !closed);
        java.lang.ref.Reference.reachabilityFence(msg);
        java.lang.ref.Reference.reachabilityFence(buffer);
        if (n < 0) {
            if (closed) {
                return new Received(0, List.of());
            }
            throw NativeException.lastError("recvmsg(fd=" + fd + ")");
        }
        List<Integer> fds = new ArrayList<>();
        long controlLen = msg.getLong(40);
        long off = 0;
        while (off + CMSG_HEADER <= controlLen) {
            long len = control.getLong(off);
            int level = control.getInt(off + 8);
            int type = control.getInt(off + 12);
            if (len < CMSG_HEADER) {
                break;
            }
            if (level == SOL_SOCKET && type == SCM_RIGHTS) {
                for (long p = off + CMSG_HEADER; p + 4 <= off + len; p += 4) {
                    fds.add(control.getInt(p));
                }
            }
            off += (len + 7) & ~7L;
        }
        return new Received((int) n, fds);
    }

    /**
     * Reads into {@code dst}, a direct buffer, from its position (which moves past the bytes
     * read) as {@link #receive(Pointer, int)} does.
     */
    public Received receive(ByteBuffer dst) {
        if (!dst.isDirect()) {
            throw new IllegalArgumentException("recvmsg needs a direct buffer");
        }
        Received r = receive(Native.getDirectBufferPointer(dst).share(dst.position()), dst.remaining());
        java.lang.ref.Reference.reachabilityFence(dst);
        dst.position(dst.position() + r.length());
        return r;
    }

    /**
     * A blocking stream over {@link #receive} for one reader thread; closing it releases the
     * socket (the reader is then the socket's last user). Descriptors received are closed: a
     * plain stream has no use for them.
     */
    public java.io.InputStream inputStream() {
        Memory buf = new Memory(65536);
        return new java.io.InputStream() {
            @Override
            public int read() throws java.io.IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                Received r = receive(buf, Math.min(len, (int) buf.size()));
                r.fds().forEach(LibC::close);
                if (r.length() == 0) {
                    return -1;
                }
                buf.read(0, b, off, r.length());
                return r.length();
            }

            @Override
            public void close() {
                UnixSocket.this.close();
            }
        };
    }

    /** A stream over {@link #sendAll}; an error once the peer is gone. */
    public java.io.OutputStream outputStream() {
        return new java.io.OutputStream() {
            private Memory buf = new Memory(4096);

            @Override
            public void write(int b) throws java.io.IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public synchronized void write(byte[] b, int off, int len) throws java.io.IOException {
                if (len == 0) {
                    return;
                }
                if (buf.size() < len) {
                    buf = new Memory(len);
                }
                buf.write(0, b, off, len);
                if (!sendAll(buf, len)) {
                    throw new java.io.IOException("the peer closed the connection");
                }
            }
        };
    }

    /** Writes all of {@code buffer[0, length)}; false if the peer is gone. */
    public boolean sendAll(Pointer buffer, long length) {
        long done = 0;
        while (done < length) {
            long n = send(fd, new Pointer(Pointer.nativeValue(buffer) + done), length - done, MSG_NOSIGNAL);
            if (n < 0) {
                if (LibC.errno() == Errno.EINTR) {
                    continue;
                }
                return false;
            }
            done += n;
        }
        java.lang.ref.Reference.reachabilityFence(buffer);
        return true;
    }

    /** Sends end-of-stream after what was sent (shutdown(SHUT_WR)); receiving goes on. */
    public void shutdownOutput() {
        shutdown(fd, SHUT_WR);
    }

    /**
     * Wakes threads blocked in accept or recvmsg (they then see end of stream) without releasing
     * the descriptor: a thread that calls recvmsg once more must not read from a descriptor
     * number that the process has meanwhile reused for another connection. The last thread that
     * uses the socket calls {@link #close()}.
     */
    public void shutdown() {
        if (closed) {
            return;
        }
        closed = true;
        shutdown(fd, SHUT_RDWR);
    }

    /** Releases the descriptor; call it when no thread can use this socket any more. */
    @Override
    public synchronized void close() {
        shutdown();
        if (!released) {
            released = true;
            LibC.close(fd);
        }
    }

    private boolean released;
}
