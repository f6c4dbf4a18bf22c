package dev.ferry.vmm.hypervisor.kvm;

import dev.ferry.vmm.hypervisor.HypervisorException;
import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.VcpuExit;
import dev.ferry.vmm.hypervisor.VcpuState;
import dev.ferry.vmm.machine.migration.VcpuStateCodec;
import dev.ferry.vmm.testing.KvmAvailability;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Saves a vCPU that has run real-mode code, restores the state into a vCPU of a second VM (the
 * migration case) and checks that the second vCPU reads back the same state and carries on
 * where the first one stopped. The host's /dev/kvm may be kvm-pvm, where guest ring-0 code is
 * emulated: the guest does only port IO, ALU and SSE moves (no vmcall/vmmcall).
 */
@Tag("kvm")
class KvmVcpuStateTest {
    private static final long RAM_BASE = 0x1000;
    private static final long RAM_SIZE = 0x4000;
    private static final long CODE = 0x1000;
    private static final long XMM_STORE = 0x3000;

    // Assembled with GNU as (.code16) and checked with objdump -M i8086.
    private static final byte[] PROGRAM = {
        (byte) 0xb8, 0x11, 0x11,                        // mov    $0x1111, %ax
        (byte) 0xbb, 0x22, 0x22,                        // mov    $0x2222, %bx
        (byte) 0xe6, (byte) 0x80,                       // out    %al, $0x80      <- state saved here
        0x01, (byte) 0xd8,                              // add    %bx, %ax        (on the restored vCPU)
        (byte) 0xe7, (byte) 0x81,                       // out    %ax, $0x81      -> 0x3333
        (byte) 0xf3, 0x0f, 0x7f, 0x0e, 0x00, 0x30,      // movdqu %xmm1, 0x3000
        (byte) 0xe6, (byte) 0x82,                       // out    %al, $0x82
        (byte) 0xeb, (byte) 0xfe,                       // jmp    .
    };
    private static final long RIP_AFTER_FIRST_OUT = CODE + 8;

    /** CR4.OSFXSR: SSE instructions do not raise #UD (Intel SDM vol. 3A, 2.5). */
    private static final long CR4_OSFXSR = 1L << 9;
    /** Standard-format XSAVE area: MXCSR at 24, XMM0 at 160, XSTATE_BV at 512 (Intel SDM vol. 1, 13.4). */
    private static final int XSAVE_XMM1 = 160 + 16;
    private static final int XSAVE_XSTATE_BV = 512;
    private static final long XSTATE_SSE = 1L << 1;
    private static final byte[] XMM1_PATTERN = {
        0x01, 0x23, 0x45, 0x67, (byte) 0x89, (byte) 0xab, (byte) 0xcd, (byte) 0xef,
        (byte) 0xfe, (byte) 0xdc, (byte) 0xba, (byte) 0x98, 0x76, 0x54, 0x32, 0x10,
    };

    /** KVM_MP_STATE_RUNNABLE. */
    private static final int MP_STATE_RUNNABLE = 0;
    /** MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_SYSTEM_TIME_NEW (kvmclock; Documentation/virt/kvm/x86/msr.rst). */
    private static final int MSR_KVM_WALL_CLOCK_NEW = 0x4b564d00;
    private static final int MSR_KVM_SYSTEM_TIME_NEW = 0x4b564d01;
    /** Guest-physical page where kvmclock (enabled through MSR_KVM_SYSTEM_TIME_NEW) writes its time. */
    private static final long KVMCLOCK_PAGE = 0x2000;
    private static final int MSR_IA32_SYSENTER_CS = 0x174;
    private static final int MSR_LSTAR = 0xc0000082;
    private static final int MSR_KERNEL_GS_BASE = 0xc0000102;
    /** Offset of the task-priority register in the LAPIC page (Intel SDM vol. 3A, table 11-1). */
    private static final int APIC_TPR = 0x80;
    /** XCR0 with x87 and SSE state enabled (the reset value is x87 only). */
    private static final long XCR0_X87_SSE = 0x3;
    /** offsetof(struct kvm_vcpu_events, nmi.masked). */
    private static final int EVENTS_NMI_MASKED = 14;
    /**
     * How far the TSC may be ahead when read back on the destination. On KVM proper the value
     * written by KVM_SET_MSRS is honoured and then keeps counting (milliseconds here). On kvm-pvm
     * (this project's CI host) the guest TSC is the host's TSC: KVM_SET_MSRS accepts the write
     * and ignores it, so the destination reads the host TSC, ahead of the saved value by the
     * time between save and read-back (0.2 s measured, mostly JVM warm-up). 5 * 10^10 cycles is
     * 10 s even at 5 GHz; the check still catches a TSC that was lost (reset) or garbled.
     */
    private static final long TSC_TOLERANCE = 50_000_000_000L;

    @BeforeEach
    void requireKvm() {
        KvmAvailability.assumeKvm();
    }

    @Test
    void stateRestoredOnAnotherVmReadsBackEqualAndTheVcpuContinues() throws Exception {
        VcpuState saved;
        try (GuestFixture source = GuestFixture.create(RAM_BASE, RAM_SIZE, true)) {
            startGuest(source);
            VcpuExit.IoOut out = assertInstanceOf(VcpuExit.IoOut.class, source.vcpu.run());
            assertEquals(0x80, out.port());

            // Give state that a fresh vCPU would not have (so that the comparison below cannot
            // pass by accident): XMM1 through the XSAVE area, registers the guest did not set,
            // a LAPIC TPR, debug address registers, a few MSRs and kvmclock, by restoring a
            // modified state into the same vCPU.
            VcpuState first = source.vcpu.saveState();
            assertEquals(RIP_AFTER_FIRST_OUT, first.registers().rip());
            Registers.Standard r = first.registers();
            VcpuState modified = first
                    .withXsave(withXmm1(first.xsave(), XMM1_PATTERN))
                    .withRegisters(new Registers.Standard(r.rax(), r.rbx(), r.rcx(), r.rdx(), 0x5151, 0xd1d1,
                            r.rsp(), r.rbp(), 8, 9, 10, 11, 12, 13, 14, 15, r.rip(), r.rflags()))
                    .withMsr(MSR_IA32_SYSENTER_CS, 0x10)
                    .withMsr(MSR_LSTAR, 0xffffffff81000000L)
                    .withMsr(MSR_KERNEL_GS_BASE, 0xffff888000001000L);
            if (modified.msr(MSR_KVM_SYSTEM_TIME_NEW) != null) {
                modified = modified.withMsr(MSR_KVM_SYSTEM_TIME_NEW, KVMCLOCK_PAGE | 1);
            }
            modified = new VcpuState(modified.registers(), modified.specialRegisters(), modified.xsave(),
                    List.of(new VcpuState.Xcr(0, XCR0_X87_SSE)), withByte(modified.lapic(), APIC_TPR, 0x20),
                    withByte(modified.vcpuEvents(), EVENTS_NMI_MASKED, 1),
                    modified.mpState(), new VcpuState.DebugRegisters(0x1000, 0x2000, 0x3000, 0x4000,
                            first.debugRegisters().dr6(), first.debugRegisters().dr7(), 0),
                    modified.msrs());
            source.vcpu.restoreState(modified);
            saved = source.vcpu.saveState();
        }
        assertEquals(0x20, saved.lapic()[APIC_TPR], "TPR through KVM_SET_LAPIC");
        assertEquals(1, saved.vcpuEvents()[EVENTS_NMI_MASKED], "NMI mask through KVM_SET_VCPU_EVENTS");
        assertEquals(List.of(new VcpuState.Xcr(0, XCR0_X87_SSE)), saved.xcrs());
        assertEquals(0x3000, saved.debugRegisters().dr2());
        assertEquals(0xffffffff81000000L, saved.msr(MSR_LSTAR));

        assertEquals(0x1111, saved.registers().rax() & 0xffff);
        assertEquals(0x2222, saved.registers().rbx() & 0xffff);
        assertEquals(0xd1d1, saved.registers().rdi());
        assertEquals(15, saved.registers().r15());
        assertArrayEquals(XMM1_PATTERN, Arrays.copyOfRange(saved.xsave(), XSAVE_XMM1, XSAVE_XMM1 + 16),
                "XMM1 went through KVM_SET_XSAVE and KVM_GET_XSAVE2");
        assertEquals(MP_STATE_RUNNABLE, saved.mpState());
        assertEquals(1024, saved.lapic().length, "in-kernel LAPIC page");
        assertEquals(64, saved.vcpuEvents().length);
        assertTrue(saved.xsave().length >= 4096);
        assertNotNull(saved.msr(VcpuState.MSR_IA32_TSC), "the TSC is among the saved MSRs: " + saved.msrs());
        List<Integer> listed;
        try (Kvm kvm = Kvm.open()) {
            listed = Arrays.stream(kvm.msrIndexList()).boxed().toList();
        }
        for (int kvmclock : new int[] {MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_SYSTEM_TIME_NEW}) {
            if (listed.contains(kvmclock)) {
                assertNotNull(saved.msr(kvmclock), "kvmclock MSR 0x" + Integer.toHexString(kvmclock) + " saved");
            }
        }

        // Through the VCPU record's encoding, as the migration stream carries it.
        VcpuState transported = VcpuStateCodec.decode(VcpuStateCodec.VERSION, VcpuStateCodec.encode(saved));
        assertEquals(List.of(), saved.differences(transported), "VCPU record round trip");

        try (GuestFixture destination = GuestFixture.create(RAM_BASE, RAM_SIZE, true)) {
            destination.load(CODE, PROGRAM);
            destination.vcpu.setCpuid(destination.kvm.supportedCpuid());
            destination.vcpu.restoreState(transported);
            VcpuState readBack = destination.vcpu.saveState();

            // The TSC moves on between save and read-back (see TSC_TOLERANCE): compare it with a
            // tolerance, everything else exactly.
            long tscSaved = saved.msr(VcpuState.MSR_IA32_TSC);
            long tscRead = readBack.msr(VcpuState.MSR_IA32_TSC);
            assertTrue(tscRead - tscSaved >= 0 && tscRead - tscSaved < TSC_TOLERANCE,
                    "TSC " + Long.toHexString(tscSaved) + " restored, read back " + Long.toHexString(tscRead));
            List<String> differences = saved.differences(readBack.withMsr(VcpuState.MSR_IA32_TSC, tscSaved));
            assertEquals(List.of(), differences, "state read back from the destination vCPU differs:\n"
                    + String.join("\n", differences));

            destination.vcpu.bindToCurrentThread();
            VcpuExit.IoOut sum = assertInstanceOf(VcpuExit.IoOut.class, destination.vcpu.run());
            assertEquals(0x81, sum.port());
            assertEquals(2, sum.size());
            assertEquals(0x3333, sum.data().getShort(0) & 0xffff,
                    "AX + BX computed from the restored registers, after the saved RIP");
            VcpuExit.IoOut done = assertInstanceOf(VcpuExit.IoOut.class, destination.vcpu.run());
            assertEquals(0x82, done.port());
            byte[] stored = new byte[16];
            destination.ram.buffer(XMM_STORE - RAM_BASE, 16).get(stored);
            assertArrayEquals(XMM1_PATTERN, stored, "the guest stored the restored XMM1");
            Registers.Standard after = destination.vcpu.registers();
            assertEquals(CODE + 20, after.rip());
            assertEquals(0xd1d1, after.rdi());
            assertEquals(15, after.r15());
        }
    }

    @Test
    void malformedStatesFailWithTheCallNamed() {
        try (GuestFixture guest = GuestFixture.create(RAM_BASE, RAM_SIZE, true)) {
            startGuest(guest);
            VcpuState good = guest.vcpu.saveState();
            Registers.Standard before = guest.vcpu.registers();

            HypervisorException truncated = restoreFails(guest,
                    good.withXsave(Arrays.copyOf(good.xsave(), 100)).withRegisters(before.withRip(0x9999)));
            assertTrue(truncated.getMessage().startsWith("KVM_SET_XSAVE(vcpu=0, size=100) refused"),
                    truncated.getMessage());
            assertEquals(before, guest.vcpu.registers(), "sizes are checked before the vCPU is touched");

            HypervisorException lapic = restoreFails(guest, new VcpuState(good.registers(),
                    good.specialRegisters(), good.xsave(), good.xcrs(), new byte[10], good.vcpuEvents(), good.mpState(),
                    good.debugRegisters(), good.msrs()));
            assertTrue(lapic.getMessage().startsWith("KVM_SET_LAPIC(vcpu=0, size=10) refused"), lapic.getMessage());

            byte[] noise = new byte[good.xsave().length];
            new Random(42).nextBytes(noise);
            HypervisorException garbage = restoreFails(guest, good.withXsave(noise));
            assertTrue(garbage.getMessage().startsWith("KVM_SET_XSAVE(vcpu=0, size=" + noise.length + ", xstate_bv=0x"),
                    garbage.getMessage());
            assertTrue(garbage.getMessage().contains("failed: EINVAL"), garbage.getMessage());
            assertEquals(22, garbage.errno());

            byte[] events = good.vcpuEvents();
            ByteBuffer.wrap(events).order(ByteOrder.LITTLE_ENDIAN).putInt(20, 0xffff_ff00); // flags: unknown bits
            HypervisorException badEvents = restoreFails(guest, new VcpuState(good.registers(),
                    good.specialRegisters(), good.xsave(), good.xcrs(), good.lapic(), events, good.mpState(),
                    good.debugRegisters(), good.msrs()));
            assertTrue(badEvents.getMessage().startsWith("KVM_SET_VCPU_EVENTS(vcpu=0, flags=0xffffff00"),
                    badEvents.getMessage());
            assertTrue(badEvents.getMessage().contains("failed: EINVAL"), badEvents.getMessage());

            HypervisorException shortEvents = restoreFails(guest, new VcpuState(good.registers(),
                    good.specialRegisters(), good.xsave(), good.xcrs(), good.lapic(), new byte[63], good.mpState(),
                    good.debugRegisters(), good.msrs()));
            assertTrue(shortEvents.getMessage().startsWith("KVM_SET_VCPU_EVENTS(vcpu=0, size=63) refused"),
                    shortEvents.getMessage());

            // The vCPU is still usable with a good state.
            guest.vcpu.restoreState(good);
            assertEquals(List.of(), good.differences(guest.vcpu.saveState().withMsr(VcpuState.MSR_IA32_TSC,
                    good.msr(VcpuState.MSR_IA32_TSC))));
        }
    }

    @Test
    void stateIsImmutable() {
        byte[] xsave = new byte[4096];
        VcpuState state = new VcpuState(Registers.Standard.zero(), special(), xsave, List.of(), new byte[0],
                new byte[64], 0, new VcpuState.DebugRegisters(0, 0, 0, 0, 0, 0, 0), List.of());
        xsave[0] = 1;
        assertEquals(0, state.xsave()[0], "copied in");
        state.xsave()[1] = 1;
        assertEquals(0, state.xsave()[1], "copied out");
        assertEquals(state, state.withXsave(new byte[4096]));
        assertEquals(List.of("xsave: 1 bytes differ, first at 0x7: 0x00 != 0x05"),
                state.differences(state.withXsave(withByte(new byte[4096], 7, 5))));
        assertEquals(List.of("registers.rip: 0x0 != 0x1000", "msr 0x10: only in the second state"),
                state.differences(state.withRegisters(Registers.Standard.zero().withRip(0x1000)).withMsr(0x10, 5)));
        Registers.Special other = special();
        VcpuState withBitmap = new VcpuState(state.registers(), new Registers.Special(other.cs(), other.ds(),
                other.es(), other.fs(), other.gs(), other.ss(), other.tr(), other.ldt(), other.gdt(), other.idt(),
                other.cr0(), other.cr2(), other.cr3(), 0x200, other.cr8(), other.efer(), other.apicBase(),
                new long[] {0, 1, 0, 0}), state.xsave(), state.xcrs(), state.lapic(), state.vcpuEvents(),
                state.mpState(), state.debugRegisters(), state.msrs());
        assertEquals(List.of("specialRegisters.cr4: 0x0 != 0x200",
                "specialRegisters.interruptBitmap: [0, 0, 0, 0] != [0, 1, 0, 0]"), state.differences(withBitmap));
        assertEquals(state, new VcpuState(state.registers(), special(), state.xsave(), state.xcrs(), state.lapic(),
                state.vcpuEvents(), state.mpState(), state.debugRegisters(), state.msrs()),
                "equal by content, though Registers.Special compares its bitmap by reference");
    }

    private static void startGuest(GuestFixture guest) {
        guest.load(CODE, PROGRAM);
        guest.vcpu.setCpuid(guest.kvm.supportedCpuid());
        guest.enterRealMode(CODE);
        Registers.Special s = guest.vcpu.specialRegisters();
        guest.vcpu.setSpecialRegisters(new Registers.Special(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(),
                s.ldt(), s.gdt(), s.idt(), s.cr0(), s.cr2(), s.cr3(), s.cr4() | CR4_OSFXSR, s.cr8(), s.efer(),
                s.apicBase(), s.interruptBitmap()));
        guest.vcpu.bindToCurrentThread();
    }

    private static HypervisorException restoreFails(GuestFixture guest, VcpuState state) {
        return assertThrows(HypervisorException.class, () -> guest.vcpu.restoreState(state));
    }

    private static byte[] withXmm1(byte[] xsave, byte[] value) {
        ByteBuffer area = ByteBuffer.wrap(xsave).order(ByteOrder.LITTLE_ENDIAN);
        area.put(XSAVE_XMM1, value);
        area.putLong(XSAVE_XSTATE_BV, area.getLong(XSAVE_XSTATE_BV) | XSTATE_SSE);
        return xsave;
    }

    private static byte[] withByte(byte[] bytes, int index, int value) {
        bytes[index] = (byte) value;
        return bytes;
    }

    private static Registers.Special special() {
        Registers.Segment segment = new Registers.Segment(0, 0xffff, 0, 3, true, 0, false, true, false, false, false,
                false);
        Registers.DescriptorTable table = new Registers.DescriptorTable(0, 0xffff);
        return new Registers.Special(segment, segment, segment, segment, segment, segment, segment, segment, table,
                table, 0x60000010L, 0, 0, 0, 0, 0, 0xfee00900L, new long[4]);
    }
}
