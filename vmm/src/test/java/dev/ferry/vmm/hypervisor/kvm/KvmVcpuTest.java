package dev.ferry.vmm.hypervisor.kvm;

import dev.ferry.vmm.hypervisor.CpuidEntry;
import dev.ferry.vmm.hypervisor.HypervisorException;
import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.VcpuExit;
import dev.ferry.vmm.testing.KvmAvailability;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Register, MSR, MP-state and CPUID ioctls on a real vCPU. */
@Tag("kvm")
class KvmVcpuTest {
    private static final long RAM_BASE = 0x1000;
    private static final long RAM_SIZE = 0x4000;
    private static final long CODE = 0x1000;

    private static final int MSR_IA32_SYSENTER_CS = 0x174;
    private static final int MSR_IA32_SYSENTER_ESP = 0x175;
    /** Not an MSR any CPU implements. */
    private static final int MSR_BOGUS = 0x4b564dff;

    private static final int KVM_MP_STATE_RUNNABLE = 0;

    @BeforeEach
    void requireKvm() {
        KvmAvailability.assumeKvm();
    }

    @Test
    void generalRegistersRoundTrip() {
        try (GuestFixture guest = GuestFixture.create(RAM_BASE, RAM_SIZE)) {
            Registers.Standard written = new Registers.Standard(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                    0x1234, Registers.Standard.RFLAGS_RESERVED);
            guest.vcpu.setRegisters(written);
            assertEquals(written, guest.vcpu.registers());
        }
    }

    @Test
    void specialRegistersRoundTrip() {
        try (GuestFixture guest = GuestFixture.create(RAM_BASE, RAM_SIZE)) {
            guest.enterRealMode(CODE);
            Registers.Special s = guest.vcpu.specialRegisters();
            assertEquals(0, s.cs().base());
            assertEquals(0, s.cs().selector());
            Registers.Special changed = new Registers.Special(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(),
                    s.ldt(), new Registers.DescriptorTable(0x2000, 0x27), new Registers.DescriptorTable(0x3000, 0x3ff),
                    s.cr0(), 0x5000, s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase(), s.interruptBitmap());
            guest.vcpu.setSpecialRegisters(changed);
            Registers.Special read = guest.vcpu.specialRegisters();
            assertEquals(changed.gdt(), read.gdt());
            assertEquals(changed.idt(), read.idt());
            assertEquals(0x5000, read.cr2());
            assertEquals(changed.ds(), read.ds());
        }
    }

    @Test
    void msrsRoundTripAndAnUnknownMsrIsNamed() {
        try (GuestFixture guest = GuestFixture.create(RAM_BASE, RAM_SIZE)) {
            int[] indices = {MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP};
            guest.vcpu.setMsrs(indices, new long[] {0x10, 0x8000});
            assertArrayEquals(new long[] {0x10, 0x8000}, guest.vcpu.msrs(indices));

            HypervisorException e = assertThrows(HypervisorException.class,
                    () -> guest.vcpu.msrs(MSR_IA32_SYSENTER_CS, MSR_BOGUS));
            assertTrue(e.getMessage().contains("MSR 0x4b564dff cannot be read"), e.getMessage());
        }
    }

    @Test
    void mpState() {
        try (GuestFixture guest = GuestFixture.create(RAM_BASE, RAM_SIZE)) {
            assertEquals(KVM_MP_STATE_RUNNABLE, guest.vcpu.mpState());
            guest.vcpu.setMpState(KVM_MP_STATE_RUNNABLE);
            assertEquals(KVM_MP_STATE_RUNNABLE, guest.vcpu.mpState());
        }
    }

    @Test
    void theGuestSeesTheCpuidItWasGiven() {
        // xor %eax, %eax; cpuid; hlt  (real mode)
        byte[] program = {0x66, 0x31, (byte) 0xc0, 0x0f, (byte) 0xa2, (byte) 0xf4};
        try (GuestFixture guest = GuestFixture.create(RAM_BASE, RAM_SIZE)) {
            List<CpuidEntry> cpuid = new ArrayList<>(guest.kvm.supportedCpuid());
            CpuidEntry leaf0 = cpuid.stream().filter(e -> e.function() == 0).findFirst().orElseThrow();
            int maxLeaf = Math.min(leaf0.eax(), 7);
            cpuid.set(cpuid.indexOf(leaf0), leaf0.withRegisters(maxLeaf, leaf0.ebx(), leaf0.ecx(), leaf0.edx()));
            guest.vcpu.setCpuid(cpuid);

            guest.load(CODE, program);
            guest.enterRealMode(CODE);
            assertInstanceOf(VcpuExit.Hlt.class, guest.vcpu.run());
            Registers.Standard regs = guest.vcpu.registers();
            assertEquals(maxLeaf, regs.rax());
            assertEquals(leaf0.ebx() & 0xffffffffL, regs.rbx(), "vendor string, part 1");
        }
    }
}
