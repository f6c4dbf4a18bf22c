package dev.ferry.vmm.os;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An anonymous memory file (memfd_create(2)) of a fixed size. Guest RAM lives in memfds rather
 * than anonymous mappings so that the same pages can be mapped into a second VM (the migration
 * helper) or passed to another process with SCM_RIGHTS (local migration). A file made elsewhere
 * can be adopted instead: a memfd another process passed, or a file on a tmpfs such as
 * /dev/shm (QEMU's memory-backend-file with share=on).
 *
 * <p>The file is sparse: pages take host memory only once touched.
 */
public final class Memfd implements AutoCloseable {
    private final String name;
    private final long size;
    private int fd;

    private Memfd(String name, int fd, long size) {
        this.name = name;
        this.fd = fd;
        this.size = size;
    }

    /**
     * Creates a memfd named {@code name} (shown in /proc/PID/maps as "/memfd:name") of
     * {@code size} bytes. The fd is close-on-exec.
     */
    public static Memfd create(String name, long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("memfd size must be positive: " + size);
        }
        int fd = LibC.memfd_create(name, LibC.MFD_CLOEXEC);
        if (fd < 0) {
            throw NativeException.lastError("memfd_create(\"" + name + "\", MFD_CLOEXEC)");
        }
        if (LibC.ftruncate(fd, size) != 0) {
            NativeException failure = NativeException.lastError(
                    "ftruncate(memfd \"" + name + "\", 0x" + Long.toHexString(size) + ")");
            LibC.close(fd);
            throw failure;
        }
        return new Memfd(name, fd, size);
    }

    /**
     * Takes over {@code fd}, an open memory file (a memfd another process passed with
     * SCM_RIGHTS), at its current size: closing this closes it. Named as /proc shows it,
     * e.g. "/memfd:guest-ram (deleted)".
     */
    public static Memfd adopt(int fd) {
        Path link = Path.of("/proc/self/fd/" + fd);
        try {
            return new Memfd(Files.readSymbolicLink(link).toString(), fd, Files.size(link));
        } catch (IOException e) {
            throw new IllegalArgumentException("fd " + fd + " is not an open file (" + link + ": " + e + ")");
        }
    }

    /** Opens {@code path} (a file on a tmpfs such as /dev/shm), read-write, at its current size. */
    public static Memfd open(Path path) {
        int fd = LibC.open(path.toString(), LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        if (fd < 0) {
            throw NativeException.lastError("open(\"" + path + "\", O_RDWR|O_CLOEXEC)");
        }
        try {
            return new Memfd(path.toString(), fd, Files.size(Path.of("/proc/self/fd/" + fd)));
        } catch (IOException e) {
            LibC.close(fd);
            throw new IllegalArgumentException("cannot find the size of " + path + ": " + e);
        }
    }

    /** The file descriptor; valid until {@link #close()}. */
    public int fd() {
        if (fd < 0) {
            throw new IllegalStateException("memfd \"" + name + "\" is closed");
        }
        return fd;
    }

    public long size() {
        return size;
    }

    public String name() {
        return name;
    }

    /**
     * Frees the host pages backing {@code [offset, offset+length)}; they read back as zeroes.
     * Mappings of the file see the change at once (fallocate(2), FALLOC_FL_PUNCH_HOLE).
     */
    public void punchHole(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException("range 0x" + Long.toHexString(offset) + "+0x"
                    + Long.toHexString(length) + " outside memfd of 0x" + Long.toHexString(size) + " bytes");
        }
        if (LibC.fallocate(fd(), LibC.FALLOC_FL_PUNCH_HOLE | LibC.FALLOC_FL_KEEP_SIZE, offset, length) != 0) {
            throw NativeException.lastError("fallocate(memfd \"" + name + "\", PUNCH_HOLE|KEEP_SIZE, 0x"
                    + Long.toHexString(offset) + ", 0x" + Long.toHexString(length) + ")");
        }
    }

    /**
     * Which pages of the file hold data (bit i of word i/64: page i is allocated); the rest are
     * holes, which read as zero. Found with lseek(2) SEEK_DATA/SEEK_HOLE, without touching
     * memory: reading a hole of a memfd through a mapping would allocate it.
     */
    public long[] dataPages(int pageSize) {
        long pages = size / pageSize;
        long[] bits = new long[(int) ((pages + 63) / 64)];
        long offset = 0;
        while (offset < size) {
            long data = LibC.lseek(fd(), offset, LibC.SEEK_DATA);
            if (data < 0) {
                break;      // ENXIO: no data beyond offset
            }
            long hole = LibC.lseek(fd(), data, LibC.SEEK_HOLE);
            if (hole < 0) {
                hole = size;
            }
            for (long p = data / pageSize; p < (hole + pageSize - 1) / pageSize && p < pages; p++) {
                bits[(int) (p >>> 6)] |= 1L << p;
            }
            offset = hole;
        }
        return bits;
    }

    /** Closes the fd. Existing mappings stay valid (the kernel keeps the file while mapped). */
    @Override
    public void close() {
        int toClose = fd;
        if (toClose >= 0) {
            fd = -1;
            LibC.close(toClose);
        }
    }

    @Override
    public String toString() {
        return "memfd \"" + name + "\" (fd " + fd + ", 0x" + Long.toHexString(size) + " bytes)";
    }
}
