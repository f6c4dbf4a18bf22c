package dev.ferry.vmm.device;

/**
 * A device on the port-IO or MMIO bus. It sees only offsets from its base and access sizes
 * (1, 2, 4 or 8 bytes), never guest addresses or host pointers.
 */
public interface IoDevice {

    /** Value the guest reads at {@code offset}; only the low {@code size} bytes are used. */
    long read(long offset, int size);

    void write(long offset, int size, long value);
}
