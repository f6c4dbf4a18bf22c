package dev.ferry.vmm.memory;

/** A run of guest RAM: guest-physical start, size, and where it sits in the RAM file. */
public record RamRange(long guestPhysicalAddress, long size, long fileOffset) {

    public long end() {
        return guestPhysicalAddress + size;
    }

    public boolean contains(long gpa, long length) {
        return gpa >= guestPhysicalAddress && length >= 0 && gpa + length <= end() && gpa + length >= gpa;
    }
}
