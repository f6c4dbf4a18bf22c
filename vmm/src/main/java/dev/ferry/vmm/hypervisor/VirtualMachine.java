package dev.ferry.vmm.hypervisor;

/**
 * One guest VM: its memory slots, interrupt controller and vCPUs. Memory is not owned here: the
 * caller maps a host range (an mmap of a memfd) and keeps it alive while it is mapped.
 */
public interface VirtualMachine extends AutoCloseable {

    /**
     * Maps {@code size} bytes of host memory at {@code hostAddress} into the guest at
     * {@code guestPhysicalAddress} as memory slot {@code slot}.
     */
    void mapMemory(int slot, long guestPhysicalAddress, long size, long hostAddress, boolean logDirty);

    /** Removes a memory slot (size 0 in KVM terms). */
    void unmapMemory(int slot);

    /**
     * Returns and clears the dirty bitmap of a slot mapped with {@code logDirty}: bit i of word
     * i/64 set means page i of the slot was written since the previous call.
     */
    long[] fetchDirtyLog(int slot, long slotSize);

    /** Creates the in-kernel interrupt controllers (PIC, IOAPIC, LAPICs) and the PIT. */
    void createInterruptController();

    /** Raises or lowers an interrupt line on the in-kernel controllers. */
    void setIrqLine(int irq, boolean high);

    /** Creates vCPU {@code id}; must be called after {@link #createInterruptController()} if any. */
    Vcpu createVcpu(int id);

    @Override
    void close();
}
