package dev.ferry.vmm.memory;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.ferry.vmm.os.Errno;
import dev.ferry.vmm.os.HostMapping;
import dev.ferry.vmm.os.LibC;
import dev.ferry.vmm.os.Memfd;
import dev.ferry.vmm.os.NativeException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * All guest RAM in one {@code memfd}, mapped once with {@code MAP_SHARED}. A memfd (not anonymous
 * memory) so that the same pages can be mapped by the migration helper VM and handed to another
 * VMM process for local migration (docs/design.md, "Local migration"), which adopts it
 * ({@link #adopt(MemoryLayout, int)}) instead of creating its own.
 */
public final class GuestRam implements GuestMemory, AutoCloseable {

    private final MemoryLayout layout;
    private final Memfd memfd;
    private final HostMapping mapping;
    private final Pointer base;
    private static final int BLOCK_SHIFT = 30;
    /** The size of the buffers {@link #blockAt(long)} returns (the last may be shorter). */
    public static final long BLOCK_SIZE = 1L << BLOCK_SHIFT;
    private final ByteBuffer[] blocks;

    private GuestRam(MemoryLayout layout, Memfd memfd, HostMapping mapping) {
        this.layout = layout;
        this.memfd = memfd;
        this.mapping = mapping;
        this.base = new Pointer(mapping.address());
        // All made here (one JNI call per GiB) and never replaced: final-field publication makes
        // them safe to read from any thread without a lock.
        this.blocks = new ByteBuffer[(int) ((mapping.size() + BLOCK_SIZE - 1) >>> BLOCK_SHIFT)];
        for (int i = 0; i < blocks.length; i++) {
            long size = Math.min(BLOCK_SIZE, mapping.size() - ((long) i << BLOCK_SHIFT));
            blocks[i] = mapping.buffer((long) i << BLOCK_SHIFT, (int) size).order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    /** Creates zero-filled RAM for {@code layout}; pages are allocated on first touch. */
    public static GuestRam create(MemoryLayout layout, String name) {
        return mapped(layout, Memfd.create(name, layout.ramSize()));
    }

    /** {@code file} mapped as {@code layout}'s RAM; on any failure the mapping and the file are closed. */
    private static GuestRam mapped(MemoryLayout layout, Memfd file) {
        HostMapping mapping;
        try {
            mapping = HostMapping.map(file);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
        try {
            return new GuestRam(layout, file, mapping);
        } catch (RuntimeException e) {
            mapping.close();
            file.close();
            throw e;
        }
    }

    /**
     * RAM for {@code layout} in an existing memory file, {@code fd} (a memfd another VMM passed
     * over a unix socket), which must be exactly the layout's size; its contents are the guest's.
     * Takes {@code fd} over: it is closed with the RAM, or at once if it is refused.
     */
    public static GuestRam adopt(MemoryLayout layout, int fd) {
        Memfd file;
        try {
            file = Memfd.adopt(fd);
        } catch (RuntimeException e) {
            LibC.close(fd);
            throw e;
        }
        return adopt(layout, file);
    }

    /** RAM for {@code layout} in {@code file} (e.g. under /dev/shm), which must be exactly its size. */
    public static GuestRam adopt(MemoryLayout layout, Path file) {
        return adopt(layout, Memfd.open(file));
    }

    private static GuestRam adopt(MemoryLayout layout, Memfd file) {
        try {
            if (file.size() != layout.ramSize()) {
                throw new IllegalArgumentException("the RAM file " + file.name() + " holds " + sizeText(file.size())
                        + " but the machine's RAM is " + sizeText(layout.ramSize()));
            }
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
        return mapped(layout, file);
    }

    private static String sizeText(long bytes) {
        return bytes % (1 << 20) == 0 ? bytes + " bytes (" + (bytes >> 20) + " MiB)" : bytes + " bytes";
    }

    @Override
    public MemoryLayout layout() {
        return layout;
    }

    /** The RAM file, for sharing with another VM or process. */
    public Memfd memfd() {
        return memfd;
    }

    /** The host virtual address where range {@code r} is mapped (for KVM memory slots). */
    public long hostAddress(RamRange r) {
        return mapping.address() + r.fileOffset();
    }

    /**
     * Writes {@code src} (a direct buffer, from its position) to guest RAM at {@code gpa} through
     * the file (pwrite(2)) rather than the mapping. An incoming migration fills most of a guest's
     * touched RAM once: writing into the file allocates each page without zeroing it first and
     * without a page fault, and a fault costs microseconds on a nested hypervisor (measured: 512
     * MiB in 0.18 s this way, 0.31 s by populating the mapping and copying). The mapping sees the
     * data at once (the same pages, MAP_SHARED).
     */
    public void store(long gpa, ByteBuffer src) {
        long offset = offsetOf(gpa, src.remaining());
        Pointer p = Native.getDirectBufferPointer(src);
        long done = 0;
        long length = src.remaining();
        while (done < length) {
            long n = LibC.pwrite(memfd.fd(), p.share(src.position() + done), length - done, offset + done);
            if (n < 0 && LibC.errno() == Errno.EINTR) {
                continue;
            }
            if (n <= 0) {
                throw NativeException.lastError(String.format("pwrite(memfd \"%s\", %d bytes at 0x%x)",
                        memfd.name(), length - done, offset + done));
            }
            done += n;
        }
    }

    private long offsetOf(long gpa, long length) {
        RamRange r = layout.rangeOf(gpa, length);
        if (r == null) {
            throw new IllegalArgumentException(String.format(
                    "guest-physical range 0x%x+0x%x is not RAM", gpa, length));
        }
        return r.fileOffset() + (gpa - r.guestPhysicalAddress());
    }

    @Override
    public void read(long gpa, byte[] dst, int offset, int length) {
        base.read(offsetOf(gpa, length), dst, offset, length);
    }

    @Override
    public void write(long gpa, byte[] src, int offset, int length) {
        base.write(offsetOf(gpa, length), src, offset, length);
    }

    @Override
    public long readLong(long gpa) {
        return base.getLong(offsetOf(gpa, 8));
    }

    @Override
    public void writeLong(long gpa, long value) {
        base.setLong(offsetOf(gpa, 8), value);
    }

    @Override
    public int readInt(long gpa) {
        return base.getInt(offsetOf(gpa, 4));
    }

    @Override
    public void writeInt(long gpa, int value) {
        base.setInt(offsetOf(gpa, 4), value);
    }

    /**
     * Views are slices of the 1 GiB block buffers made with the RAM ({@link #blockAt}): creating
     * a direct buffer is a JNI call, too slow for callers that ask for many small views.
     */
    @Override
    public ByteBuffer view(long gpa, int length) {
        long offset = offsetOf(gpa, length);
        int within = (int) (offset & (BLOCK_SIZE - 1));
        if (within + (long) length > BLOCK_SIZE) {
            // Straddles two blocks (never for a page: blocks are page-aligned).
            return base.getByteBuffer(offset, length).order(ByteOrder.LITTLE_ENDIAN);
        }
        return blockAt(offset).slice(within, length).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The cached buffer over the 1 GiB of the RAM file that holds {@code fileOffset}; it starts
     * at {@code fileOffset & ~(BLOCK_SIZE - 1)}. Shared: callers read it with absolute offsets
     * and never move its position or limit. Migration reads every page it sends through these,
     * without creating an object per page.
     */
    public ByteBuffer blockAt(long fileOffset) {
        if (fileOffset < 0 || fileOffset >= mapping.size()) {
            throw new IndexOutOfBoundsException("RAM file offset 0x" + Long.toHexString(fileOffset) + " beyond 0x"
                    + Long.toHexString(mapping.size()));
        }
        return blocks[(int) (fileOffset >>> BLOCK_SHIFT)];
    }

    @Override
    public void zero(long gpa, long length) {
        base.setMemory(offsetOf(gpa, length), length, (byte) 0);
    }

    /**
     * Allocates the file's pages {@code [fileOffset, fileOffset + length)} now, without changing
     * their contents (madvise(2) MADV_POPULATE_WRITE on the mapping: no file lock is taken, so
     * a concurrent {@link #store} never waits for it). Returns false where the kernel lacks it
     * (before Linux 5.14).
     */
    public boolean populate(long fileOffset, long length) {
        if (fileOffset < 0 || length < 0 || length > mapping.size() - fileOffset) {
            throw new IllegalArgumentException(String.format("file range 0x%x+0x%x is outside the RAM (0x%x bytes)",
                    fileOffset, length, mapping.size()));
        }
        if (LibC.madvise(mapping.address() + fileOffset, length, LibC.MADV_POPULATE_WRITE) == 0) {
            return true;
        }
        if (LibC.errno() == Errno.EINVAL) {
            return false;
        }
        throw NativeException.lastError(String.format("madvise(memfd \"%s\" at 0x%x, %d bytes, MADV_POPULATE_WRITE)",
                memfd.name(), fileOffset, length));
    }

    /**
     * Returns all RAM to zero by punching a hole in the file (the host frees the pages), which is
     * what a reset needs and costs nothing for untouched memory.
     */
    public void discard() {
        memfd.punchHole(0, layout.ramSize());
    }

    @Override
    public void close() {
        mapping.unmap();
        memfd.close();
    }
}
