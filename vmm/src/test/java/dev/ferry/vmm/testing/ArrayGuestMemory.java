package dev.ferry.vmm.testing;

import dev.ferry.vmm.memory.GuestMemory;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.memory.RamRange;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Guest memory in a Java array, for tests of loaders and devices without KVM. */
public final class ArrayGuestMemory implements GuestMemory {
    private final MemoryLayout layout;
    private final byte[] bytes;

    public ArrayGuestMemory(long size) {
        this.layout = new MemoryLayout(size);
        this.bytes = new byte[Math.toIntExact(size)];
    }

    private int at(long gpa, long len) {
        RamRange r = layout.rangeOf(gpa, len);
        if (r == null) {
            throw new IllegalArgumentException(String.format("0x%x+0x%x is not RAM", gpa, len));
        }
        return Math.toIntExact(r.fileOffset() + gpa - r.guestPhysicalAddress());
    }

    @Override
    public MemoryLayout layout() {
        return layout;
    }

    @Override
    public void read(long gpa, byte[] dst, int offset, int length) {
        System.arraycopy(bytes, at(gpa, length), dst, offset, length);
    }

    @Override
    public void write(long gpa, byte[] src, int offset, int length) {
        System.arraycopy(src, offset, bytes, at(gpa, length), length);
    }

    @Override
    public long readLong(long gpa) {
        return view(gpa, 8).getLong(0);
    }

    @Override
    public void writeLong(long gpa, long value) {
        view(gpa, 8).putLong(0, value);
    }

    @Override
    public int readInt(long gpa) {
        return view(gpa, 4).getInt(0);
    }

    @Override
    public void writeInt(long gpa, int value) {
        view(gpa, 4).putInt(0, value);
    }

    @Override
    public ByteBuffer view(long gpa, int length) {
        return ByteBuffer.wrap(bytes, at(gpa, length), length).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public void zero(long gpa, long length) {
        int from = at(gpa, length);
        java.util.Arrays.fill(bytes, from, from + Math.toIntExact(length), (byte) 0);
    }
}
