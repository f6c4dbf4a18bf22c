package dev.ferry.vmm.os;

import com.sun.jna.Pointer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A shared, read-write mmap(2) of a file (typically a {@link Memfd}) into this process. Guest
 * memory slots point at such mappings; the VMM reads and writes guest RAM through
 * {@link #buffer(long, int)} views.
 *
 * <p>A ByteBuffer cannot exceed 2 GiB, so a view covers a range of the mapping rather than the
 * whole of it; any range of a larger mapping can be viewed. Views are direct buffers over the
 * mapping itself (no copy). Touching a view after {@link #unmap()} crashes the JVM, so the owner
 * must stop all users first.
 */
public final class HostMapping implements AutoCloseable {
    private final long address;
    private final long size;
    private volatile boolean mapped = true;

    private HostMapping(long address, long size) {
        this.address = address;
        this.size = size;
    }

    /** Maps {@code size} bytes of {@code fd} from {@code offset}, MAP_SHARED, PROT_READ|PROT_WRITE. */
    public static HostMapping map(int fd, long offset, long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("mapping size must be positive: " + size);
        }
        long address = LibC.mmap(0, size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, offset);
        if (address == LibC.MAP_FAILED) {
            throw NativeException.lastError("mmap(size=0x" + Long.toHexString(size)
                    + ", PROT_READ|PROT_WRITE, MAP_SHARED, fd=" + fd + ", offset=0x" + Long.toHexString(offset) + ")");
        }
        return new HostMapping(address, size);
    }

    /** Maps the whole of {@code memfd}. */
    public static HostMapping map(Memfd memfd) {
        return map(memfd.fd(), 0, memfd.size());
    }

    /** The host virtual address of the first byte (what KVM calls userspace_addr). */
    public long address() {
        return address;
    }

    public long size() {
        return size;
    }

    /**
     * A little-endian view of {@code [offset, offset+length)}. Position 0 of the buffer is byte
     * {@code offset} of the mapping.
     */
    public ByteBuffer buffer(long offset, int length) {
        checkMapped();
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException("range 0x" + Long.toHexString(offset) + "+0x"
                    + Integer.toHexString(length) + " outside mapping of 0x" + Long.toHexString(size) + " bytes");
        }
        if (length == 0) {
            return ByteBuffer.allocateDirect(0).order(ByteOrder.LITTLE_ENDIAN);
        }
        return new Pointer(address + offset).getByteBuffer(0, length).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Removes the mapping. Idempotent. */
    public synchronized void unmap() {
        if (!mapped) {
            return;
        }
        mapped = false;
        if (LibC.munmap(address, size) != 0) {
            throw NativeException.lastError("munmap(0x" + Long.toHexString(address) + ", 0x"
                    + Long.toHexString(size) + ")");
        }
    }

    @Override
    public void close() {
        unmap();
    }

    private void checkMapped() {
        if (!mapped) {
            throw new IllegalStateException("mapping at 0x" + Long.toHexString(address) + " was unmapped");
        }
    }

    @Override
    public String toString() {
        return "mapping 0x" + Long.toHexString(address) + "+0x" + Long.toHexString(size);
    }
}
