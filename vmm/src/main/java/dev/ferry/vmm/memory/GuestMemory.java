package dev.ferry.vmm.memory;

import java.nio.ByteBuffer;

/**
 * Access to guest RAM by guest-physical address. Devices and loaders use only this; they never
 * see host pointers. Every access is bounds-checked against the RAM ranges: an address outside
 * RAM (or straddling the PCI hole) is an {@link IllegalArgumentException}.
 */
public interface GuestMemory {

    MemoryLayout layout();

    void read(long gpa, byte[] dst, int offset, int length);

    void write(long gpa, byte[] src, int offset, int length);

    default void read(long gpa, byte[] dst) {
        read(gpa, dst, 0, dst.length);
    }

    default void write(long gpa, byte[] src) {
        write(gpa, src, 0, src.length);
    }

    long readLong(long gpa);

    void writeLong(long gpa, long value);

    int readInt(long gpa);

    void writeInt(long gpa, int value);

    /**
     * A little-endian view of {@code [gpa, gpa+length)} sharing the guest's memory, for zero-copy
     * I/O. The range must lie within one RAM range and length must fit in an int.
     */
    ByteBuffer view(long gpa, int length);

    /** Sets {@code [gpa, gpa+length)} to zero. */
    void zero(long gpa, long length);
}
