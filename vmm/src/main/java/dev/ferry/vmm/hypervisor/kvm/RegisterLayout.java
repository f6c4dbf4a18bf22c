package dev.ferry.vmm.hypervisor.kvm;

import com.sun.jna.Pointer;
import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.VcpuState;

import java.util.ArrayList;
import java.util.List;

/**
 * struct kvm_regs, kvm_sregs, kvm_xcrs and kvm_debugregs (arch/x86/include/uapi/asm/kvm.h) read
 * and written at their C offsets in native memory. Why not the JNA {@link KvmAbi} structures:
 * Structure.read/write walk their fields by reflection, nested structures and arrays of them
 * included, and cost up to a millisecond per call before the JIT has compiled that path, which a
 * migration's switchover pays once per vCPU (the guest is stopped meanwhile). KvmAbi still
 * defines the layouts and sizes; RegisterLayoutTest checks every offset here against it.
 */
final class RegisterLayout {
    private RegisterLayout() {}

    static final int REGS_SIZE = 18 * Long.BYTES;

    /** struct kvm_segment: base u64, limit u32, selector u16, then nine u8 flags and a pad byte. */
    static final int SEGMENT_SIZE = 24;
    /** struct kvm_dtable: base u64, limit u16, padding u16[3]. */
    static final int DTABLE_SIZE = 16;
    private static final int SEGMENTS = 8;
    private static final int SREGS_GDT = SEGMENTS * SEGMENT_SIZE;
    private static final int SREGS_IDT = SREGS_GDT + DTABLE_SIZE;
    private static final int SREGS_CR0 = SREGS_IDT + DTABLE_SIZE;
    /** cr0, cr2, cr3, cr4, cr8, efer, apic_base: consecutive u64 from SREGS_CR0. */
    private static final int SREGS_BITMAP = SREGS_CR0 + 7 * Long.BYTES;
    static final int SREGS_SIZE = SREGS_BITMAP + KvmAbi.kvm_sregs.INTERRUPT_BITMAP_WORDS * Long.BYTES;

    /** struct kvm_xcrs: nr_xcrs u32, flags u32, xcrs[16] of {xcr u32, reserved u32, value u64}, padding u64[16]. */
    private static final int XCRS_ENTRIES = 8;
    private static final int XCR_SIZE = 16;
    static final int XCRS_SIZE = XCRS_ENTRIES + KvmAbi.kvm_xcrs.KVM_MAX_XCRS * XCR_SIZE + 16 * Long.BYTES;

    /** struct kvm_debugregs: db u64[4], dr6, dr7, flags, reserved u64[9]. */
    static final int DEBUGREGS_SIZE = 16 * Long.BYTES;

    // ---- kvm_regs: rax rbx rcx rdx rsi rdi rsp rbp r8-r15 rip rflags ----

    static Registers.Standard readRegs(Pointer p) {
        long[] v = p.getLongArray(0, 18);
        return new Registers.Standard(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11],
                v[12], v[13], v[14], v[15], v[16], v[17]);
    }

    static void writeRegs(Pointer p, Registers.Standard r) {
        p.write(0, new long[] {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(), r.r8(),
                r.r9(), r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15(), r.rip(), r.rflags()}, 0, 18);
    }

    // ---- kvm_sregs: cs ds es fs gs ss tr ldt, gdt idt, cr0 cr2 cr3 cr4 cr8 efer apic_base, bitmap ----

    static Registers.Special readSregs(Pointer p) {
        Registers.Segment[] s = new Registers.Segment[SEGMENTS];
        for (int i = 0; i < SEGMENTS; i++) {
            s[i] = readSegment(p, (long) i * SEGMENT_SIZE);
        }
        long[] cr = p.getLongArray(SREGS_CR0, 7);
        return new Registers.Special(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
                readTable(p, SREGS_GDT), readTable(p, SREGS_IDT), cr[0], cr[1], cr[2], cr[3], cr[4], cr[5], cr[6],
                p.getLongArray(SREGS_BITMAP, KvmAbi.kvm_sregs.INTERRUPT_BITMAP_WORDS));
    }

    /** Writes all {@link #SREGS_SIZE} bytes; {@code bitmap} beyond its length is zero. */
    static void writeSregs(Pointer p, Registers.Special s) {
        long[] bitmap = s.interruptBitmap();
        if (bitmap.length > KvmAbi.kvm_sregs.INTERRUPT_BITMAP_WORDS) {
            throw new IllegalArgumentException("interrupt bitmap has " + bitmap.length + " words, KVM takes "
                    + KvmAbi.kvm_sregs.INTERRUPT_BITMAP_WORDS);
        }
        p.setMemory(0, SREGS_SIZE, (byte) 0);
        Registers.Segment[] segments = {s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt()};
        for (int i = 0; i < SEGMENTS; i++) {
            writeSegment(p, (long) i * SEGMENT_SIZE, segments[i]);
        }
        writeTable(p, SREGS_GDT, s.gdt());
        writeTable(p, SREGS_IDT, s.idt());
        p.write(SREGS_CR0, new long[] {s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase()}, 0, 7);
        p.write(SREGS_BITMAP, bitmap, 0, bitmap.length);
    }

    private static Registers.Segment readSegment(Pointer p, long at) {
        byte[] f = p.getByteArray(at + 14, 9); // type present dpl db s l g avl unusable
        return new Registers.Segment(p.getLong(at), p.getInt(at + 8), p.getShort(at + 12) & 0xffff, f[0] & 0xff,
                f[1] != 0, f[2] & 0xff, f[3] != 0, f[4] != 0, f[5] != 0, f[6] != 0, f[7] != 0, f[8] != 0);
    }

    private static void writeSegment(Pointer p, long at, Registers.Segment s) {
        p.setLong(at, s.base());
        p.setInt(at + 8, s.limit());
        p.setShort(at + 12, (short) s.selector());
        p.write(at + 14, new byte[] {(byte) s.type(), flag(s.present()), (byte) s.dpl(), flag(s.db()), flag(s.s()),
                flag(s.l()), flag(s.g()), flag(s.avl()), flag(s.unusable())}, 0, 9);
    }

    private static Registers.DescriptorTable readTable(Pointer p, long at) {
        return new Registers.DescriptorTable(p.getLong(at), p.getShort(at + 8) & 0xffff);
    }

    private static void writeTable(Pointer p, long at, Registers.DescriptorTable t) {
        p.setLong(at, t.base());
        p.setShort(at + 8, (short) t.limit());
    }

    private static byte flag(boolean value) {
        return (byte) (value ? 1 : 0);
    }

    // ---- kvm_xcrs ----

    static List<VcpuState.Xcr> readXcrs(Pointer p) {
        int n = Math.min(p.getInt(0), KvmAbi.kvm_xcrs.KVM_MAX_XCRS);
        List<VcpuState.Xcr> out = new ArrayList<>(Math.max(n, 0));
        for (int i = 0; i < n; i++) {
            long at = XCRS_ENTRIES + (long) i * XCR_SIZE;
            out.add(new VcpuState.Xcr(p.getInt(at), p.getLong(at + 8)));
        }
        return out;
    }

    /** Writes all {@link #XCRS_SIZE} bytes; at most KVM_MAX_XCRS entries. */
    static void writeXcrs(Pointer p, List<VcpuState.Xcr> xcrs) {
        if (xcrs.size() > KvmAbi.kvm_xcrs.KVM_MAX_XCRS) {
            throw new IllegalArgumentException(xcrs.size() + " XCRs, KVM takes at most "
                    + KvmAbi.kvm_xcrs.KVM_MAX_XCRS);
        }
        p.setMemory(0, XCRS_SIZE, (byte) 0);
        p.setInt(0, xcrs.size());
        for (int i = 0; i < xcrs.size(); i++) {
            long at = XCRS_ENTRIES + (long) i * XCR_SIZE;
            p.setInt(at, xcrs.get(i).index());
            p.setLong(at + 8, xcrs.get(i).value());
        }
    }

    // ---- kvm_debugregs ----

    static VcpuState.DebugRegisters readDebugRegs(Pointer p) {
        long[] v = p.getLongArray(0, 7);
        return new VcpuState.DebugRegisters(v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
    }

    /** Writes all {@link #DEBUGREGS_SIZE} bytes (reserved words zero). */
    static void writeDebugRegs(Pointer p, VcpuState.DebugRegisters d) {
        p.setMemory(0, DEBUGREGS_SIZE, (byte) 0);
        p.write(0, new long[] {d.dr0(), d.dr1(), d.dr2(), d.dr3(), d.dr6(), d.dr7(), d.flags()}, 0, 7);
    }
}
