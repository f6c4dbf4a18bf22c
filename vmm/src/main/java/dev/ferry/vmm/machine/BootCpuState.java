package dev.ferry.vmm.machine;

import dev.ferry.vmm.boot.MultibootLoader;
import dev.ferry.vmm.hypervisor.Registers;

/**
 * The boot processor's state on entry to a Multiboot kernel (Multiboot spec 0.6.96, 3.2): EAX the
 * loader magic, EBX the information address, flat 32-bit code and data segments, protected mode
 * without paging, interrupts disabled.
 */
final class BootCpuState {

    /** CR0.PE: protected mode. CR0.ET is hard-wired to 1 on modern CPUs. */
    static final long CR0_PE = 1L;
    static final long CR0_ET = 1L << 4;
    static final int CODE_SELECTOR = 0x10;
    static final int DATA_SELECTOR = 0x18;
    /** Segment types (Intel SDM vol. 3A, table 3-1): execute/read accessed; read/write accessed. */
    static final int TYPE_CODE_ER_ACCESSED = 0xB;
    static final int TYPE_DATA_RW_ACCESSED = 0x3;

    private BootCpuState() {}

    static Registers.Special special(Registers.Special current) {
        Registers.Segment code = flat(CODE_SELECTOR, TYPE_CODE_ER_ACCESSED);
        Registers.Segment data = flat(DATA_SELECTOR, TYPE_DATA_RW_ACCESSED);
        long cr0 = (current.cr0() | CR0_PE | CR0_ET) & ~(1L << 31) & ~(1L << 30) & ~(1L << 29);
        return current.withFlatProtectedMode(code, data, cr0);
    }

    static Registers.Standard standard(MultibootLoader.LoadedKernel kernel) {
        return Registers.Standard.zero().withRip(kernel.entry())
                .withRaxRbx(MultibootLoader.BOOTLOADER_MAGIC & 0xFFFF_FFFFL, kernel.infoAddress());
    }

    private static Registers.Segment flat(int selector, int type) {
        return new Registers.Segment(0, 0xFFFF_FFFF, selector, type, true, 0, true, true, false, true, false, false);
    }
}
