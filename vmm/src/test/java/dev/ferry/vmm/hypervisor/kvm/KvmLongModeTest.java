package dev.ferry.vmm.hypervisor.kvm;

import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.VcpuExit;
import dev.ferry.vmm.testing.KvmAvailability;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * Enters 64-bit mode directly through KVM_SET_SREGS (no boot code): identity-mapped page tables
 * in guest RAM, a long-mode code segment, and paging enabled.
 */
@Tag("kvm")
class KvmLongModeTest {
    private static final long RAM_SIZE = 0x10000;
    private static final long PML4 = 0x1000;
    private static final long PDPT = 0x2000;
    private static final long PD = 0x3000;
    private static final long CODE = 0x4000;
    private static final long DATA = 0x5000;
    /** Mapped by the page tables (first 2 MiB) but outside the memory slot: MMIO. */
    private static final long MMIO = 0x100000;

    // Page-table entry bits (Intel SDM vol. 3, 4.5).
    private static final long PRESENT = 1;
    private static final long WRITABLE = 1 << 1;
    private static final long PAGE_SIZE_2M = 1 << 7;

    private static final long CR0_PE = 1;
    private static final long CR0_MP = 1 << 1;
    private static final long CR0_ET = 1 << 4;
    private static final long CR0_NE = 1 << 5;
    private static final long CR0_PG = 1L << 31;
    private static final long CR4_PAE = 1 << 5;
    private static final long EFER_LME = 1 << 8;
    private static final long EFER_LMA = 1 << 10;

    // Assembled with GNU as (.code64), checked with objdump.
    private static final byte[] PROGRAM = {
        0x48, (byte) 0xb8, (byte) 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // movabs $0x1122334455667788, %rax
        0x48, (byte) 0x89, 0x04, 0x25, 0x00, 0x00, 0x10, 0x00,                    // mov %rax, 0x100000
        0x48, (byte) 0x8b, 0x1c, 0x25, 0x08, 0x00, 0x10, 0x00,                    // mov 0x100008, %rbx
        0x48, (byte) 0x89, 0x1c, 0x25, 0x00, 0x50, 0x00, 0x00,                    // mov %rbx, 0x5000
        0x66, (byte) 0xba, (byte) 0xf8, 0x03,                                     // mov $0x3f8, %dx
        (byte) 0xef,                                                              // out %eax, (%dx)
        (byte) 0xf4,                                                              // hlt
    };

    @BeforeEach
    void requireKvm() {
        KvmAvailability.assumeKvm();
    }

    @Test
    void runs64BitCode() {
        try (GuestFixture guest = GuestFixture.create(0, RAM_SIZE)) {
            guest.ram.buffer(PML4, 8).putLong(0, PDPT | PRESENT | WRITABLE);
            guest.ram.buffer(PDPT, 8).putLong(0, PD | PRESENT | WRITABLE);
            guest.ram.buffer(PD, 8).putLong(0, PRESENT | WRITABLE | PAGE_SIZE_2M);
            guest.load(CODE, PROGRAM);
            enterLongMode(guest.vcpu);

            VcpuExit.MmioWrite write = assertInstanceOf(VcpuExit.MmioWrite.class, guest.vcpu.run());
            assertEquals(MMIO, write.address());
            assertEquals(8, write.length());
            assertEquals(0x1122334455667788L, write.data().getLong(0));

            VcpuExit.MmioRead read = assertInstanceOf(VcpuExit.MmioRead.class, guest.vcpu.run());
            assertEquals(MMIO + 8, read.address());
            assertEquals(8, read.length());
            read.data().putLong(0, 0xcafef00dd00dfeedL);

            VcpuExit.IoOut out = assertInstanceOf(VcpuExit.IoOut.class, guest.vcpu.run());
            assertEquals(0x3f8, out.port());
            assertEquals(4, out.size());
            assertEquals(0x55667788, out.data().getInt(0));

            assertInstanceOf(VcpuExit.Hlt.class, guest.vcpu.run());
            assertEquals(0xcafef00dd00dfeedL, guest.vcpu.registers().rbx());
            ByteBuffer stored = guest.ram.buffer(DATA, 8);
            assertEquals(0xcafef00dd00dfeedL, stored.getLong(0));

            long[] dirty = guest.vm.fetchDirtyLog(GuestFixture.SLOT, RAM_SIZE);
            // The page walker also sets accessed/dirty bits in the tables, so only check DATA.
            assertNotEquals(0, dirty[0] & (1L << (DATA / 4096)), "data page dirty");
        }
    }

    private static void enterLongMode(KvmVcpu vcpu) {
        Registers.Special s = vcpu.specialRegisters();
        Registers.Segment code = new Registers.Segment(0, 0xffffffff, 0x8, 0xb, true, 0, false, true, true, true,
                false, false);
        Registers.Segment data = new Registers.Segment(0, 0xffffffff, 0x10, 0x3, true, 0, true, true, false, true,
                false, false);
        vcpu.setSpecialRegisters(new Registers.Special(code, data, data, data, data, data, s.tr(), s.ldt(),
                s.gdt(), s.idt(), CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG, 0, PML4, CR4_PAE, 0,
                EFER_LME | EFER_LMA, s.apicBase(), new long[4]));
        vcpu.setRegisters(Registers.Standard.zero().withRip(CODE));

        Registers.Special applied = vcpu.specialRegisters();
        assertEquals(PML4, applied.cr3());
        assertEquals(EFER_LME | EFER_LMA, applied.efer() & (EFER_LME | EFER_LMA));
        assertEquals(true, applied.cs().l());
    }
}
