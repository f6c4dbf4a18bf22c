package dev.ferry.vmm.hypervisor.kvm;

import com.sun.jna.Memory;
import com.sun.jna.Structure;
import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.VcpuState;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_debugregs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_regs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_segment;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_sregs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_xcrs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The raw-offset marshalling against the JNA structures, whose layout KvmAbiTest checks against
 * the C compiler: random values written one way must read back identically the other way.
 */
class RegisterLayoutTest {

    private final SplittableRandom random = new SplittableRandom(20261121);

    @Test
    void sizesAreTheKernelStructures() {
        assertEquals(new kvm_regs().size(), RegisterLayout.REGS_SIZE);
        assertEquals(new kvm_sregs().size(), RegisterLayout.SREGS_SIZE);
        assertEquals(new kvm_segment().size(), RegisterLayout.SEGMENT_SIZE);
        assertEquals(new kvm_xcrs().size(), RegisterLayout.XCRS_SIZE);
        assertEquals(new kvm_debugregs().size(), RegisterLayout.DEBUGREGS_SIZE);
    }

    @Test
    void generalRegistersMatchKvmRegs() {
        for (int round = 0; round < 50; round++) {
            Registers.Standard r = new Registers.Standard(l(), l(), l(), l(), l(), l(), l(), l(), l(), l(), l(), l(),
                    l(), l(), l(), l(), l(), l());
            Memory m = new Memory(RegisterLayout.REGS_SIZE);
            RegisterLayout.writeRegs(m, r);
            kvm_regs jna = Structure.newInstance(kvm_regs.class, m);
            jna.read();
            assertEquals(r, new Registers.Standard(jna.rax, jna.rbx, jna.rcx, jna.rdx, jna.rsi, jna.rdi, jna.rsp,
                    jna.rbp, jna.r8, jna.r9, jna.r10, jna.r11, jna.r12, jna.r13, jna.r14, jna.r15, jna.rip,
                    jna.rflags));
            assertEquals(r, RegisterLayout.readRegs(m));
        }
    }

    @Test
    void specialRegistersMatchKvmSregsBothWays() {
        for (int round = 0; round < 50; round++) {
            Registers.Special s = sregs();
            Memory m = new Memory(RegisterLayout.SREGS_SIZE);
            RegisterLayout.writeSregs(m, s);
            kvm_sregs jna = Structure.newInstance(kvm_sregs.class, m);
            jna.read();
            kvm_segment[] segs = {jna.cs, jna.ds, jna.es, jna.fs, jna.gs, jna.ss, jna.tr, jna.ldt};
            Registers.Segment[] expected = {s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt()};
            for (int i = 0; i < segs.length; i++) {
                assertEquals(expected[i].base(), segs[i].base);
                assertEquals(expected[i].limit(), segs[i].limit);
                assertEquals(expected[i].selector(), segs[i].selector & 0xffff);
                assertEquals(expected[i].type(), segs[i].type & 0xff);
                assertEquals(expected[i].dpl(), segs[i].dpl & 0xff);
                assertEquals(expected[i].present(), segs[i].present != 0);
                assertEquals(expected[i].db(), segs[i].db != 0);
                assertEquals(expected[i].s(), segs[i].s != 0);
                assertEquals(expected[i].l(), segs[i].l != 0);
                assertEquals(expected[i].g(), segs[i].g != 0);
                assertEquals(expected[i].avl(), segs[i].avl != 0);
                assertEquals(expected[i].unusable(), segs[i].unusable != 0);
            }
            assertEquals(s.gdt().base(), jna.gdt.base);
            assertEquals(s.gdt().limit(), jna.gdt.limit & 0xffff);
            assertEquals(s.idt().base(), jna.idt.base);
            assertEquals(s.idt().limit(), jna.idt.limit & 0xffff);
            assertArrayEquals(new long[] {s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase()},
                    new long[] {jna.cr0, jna.cr2, jna.cr3, jna.cr4, jna.cr8, jna.efer, jna.apic_base});
            assertArrayEquals(s.interruptBitmap(), jna.interrupt_bitmap);

            // And back: what JNA writes, the raw reader reads as the same value.
            Memory other = new Memory(RegisterLayout.SREGS_SIZE);
            other.clear();
            kvm_sregs copy = Structure.newInstance(kvm_sregs.class, other);
            copy.getPointer().write(0, m.getByteArray(0, RegisterLayout.SREGS_SIZE), 0, RegisterLayout.SREGS_SIZE);
            copy.read();
            copy.write();
            Registers.Special back = RegisterLayout.readSregs(other);
            assertEquals(s.cs(), back.cs());
            assertEquals(s.ldt(), back.ldt());
            assertEquals(s.idt(), back.idt());
            assertEquals(s.apicBase(), back.apicBase());
            assertArrayEquals(s.interruptBitmap(), back.interruptBitmap());
        }
    }

    @Test
    void anOversizedInterruptBitmapIsRefused() {
        Registers.Special s = sregs();
        Registers.Special big = new Registers.Special(s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(),
                s.gdt(), s.idt(), 0, 0, 0, 0, 0, 0, 0, new long[5]);
        assertThrows(IllegalArgumentException.class,
                () -> RegisterLayout.writeSregs(new Memory(RegisterLayout.SREGS_SIZE), big));
    }

    @Test
    void xcrsAndDebugRegistersMatchKvmStructures() {
        List<VcpuState.Xcr> xcrs = List.of(new VcpuState.Xcr(0, 0xe7), new VcpuState.Xcr(1, l()));
        Memory m = new Memory(RegisterLayout.XCRS_SIZE);
        RegisterLayout.writeXcrs(m, xcrs);
        kvm_xcrs jna = Structure.newInstance(kvm_xcrs.class, m);
        jna.read();
        assertEquals(2, jna.nr_xcrs);
        assertEquals(1, jna.xcrs[1].xcr);
        assertEquals(xcrs.get(1).value(), jna.xcrs[1].value);
        assertEquals(xcrs, RegisterLayout.readXcrs(m));
        assertThrows(IllegalArgumentException.class, () -> RegisterLayout.writeXcrs(m,
                java.util.Collections.nCopies(17, new VcpuState.Xcr(0, 1))));

        VcpuState.DebugRegisters d = new VcpuState.DebugRegisters(l(), l(), l(), l(), l(), l(), l());
        Memory dm = new Memory(RegisterLayout.DEBUGREGS_SIZE);
        RegisterLayout.writeDebugRegs(dm, d);
        kvm_debugregs dj = Structure.newInstance(kvm_debugregs.class, dm);
        dj.read();
        assertEquals(new VcpuState.DebugRegisters(dj.db[0], dj.db[1], dj.db[2], dj.db[3], dj.dr6, dj.dr7, dj.flags), d);
        assertEquals(d, RegisterLayout.readDebugRegs(dm));
    }

    private long l() {
        return random.nextLong();
    }

    private Registers.Special sregs() {
        Registers.Segment[] s = new Registers.Segment[8];
        for (int i = 0; i < s.length; i++) {
            s[i] = new Registers.Segment(l(), random.nextInt(), random.nextInt(0x10000), random.nextInt(256),
                    random.nextBoolean(), random.nextInt(256), random.nextBoolean(), random.nextBoolean(),
                    random.nextBoolean(), random.nextBoolean(), random.nextBoolean(), random.nextBoolean());
        }
        return new Registers.Special(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
                new Registers.DescriptorTable(l(), random.nextInt(0x10000)),
                new Registers.DescriptorTable(l(), random.nextInt(0x10000)), l(), l(), l(), l(), l(), l(), l(),
                new long[] {l(), l(), l(), l()});
    }
}
