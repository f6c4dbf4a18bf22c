package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.state.StateException;
import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.VcpuState;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A vCPU's state as the body of a VCPU record (docs/migration-stream.md, "VCPU state"): fixed
 * binary fields, big-endian like the rest of the stream. Binary rather than JSON because it is
 * encoded and decoded while the guest is stopped: Jackson needed 2-5 ms per vCPU for the ~10 KB
 * of registers, XSAVE area and MSRs; this takes microseconds even before the JIT compiles it.
 *
 * <p>Decoding treats the body as hostile: every count and length is checked against what KVM
 * takes and against the bytes left before anything is allocated. A body written by a newer
 * Ferry (version above {@link #VERSION}, minimum version not) may carry fields after the ones
 * this version knows; they are ignored. A body of this version must end exactly after them.
 */
public final class VcpuStateCodec {
    private VcpuStateCodec() {}

    /** The vCPU state body this Ferry writes and the newest it reads. */
    public static final int VERSION = 1;
    /** The oldest reader that understands what this Ferry writes. */
    public static final int MINIMUM_VERSION = 1;

    private static final int SEGMENTS = 8;
    /** KVM_NR_INTERRUPTS / 64 (struct kvm_sregs.interrupt_bitmap). */
    private static final int MAX_BITMAP_WORDS = 4;
    /** KVM_MAX_XCRS. */
    private static final int MAX_XCRS = 16;
    private static final int SEGMENT_BYTES = 8 + 4 + 2 + 3;
    private static final int MSR_BYTES = 4 + 8;

    private static final int PRESENT = 1;
    private static final int DB = 1 << 1;
    private static final int S = 1 << 2;
    private static final int L = 1 << 3;
    private static final int G = 1 << 4;
    private static final int AVL = 1 << 5;
    private static final int UNUSABLE = 1 << 6;

    public static ByteBuffer encode(VcpuState v) {
        Registers.Special s = v.specialRegisters();
        long[] bitmap = s.interruptBitmap();
        byte[] xsave = v.xsave();
        byte[] lapic = v.lapic();
        byte[] events = v.vcpuEvents();
        int size = 18 * 8 + SEGMENTS * SEGMENT_BYTES + 2 * 10 + 7 * 8 + 1 + bitmap.length * 8
                + 4 + xsave.length + 1 + v.xcrs().size() * MSR_BYTES + 4 + lapic.length + 4 + events.length
                + 4 + 7 * 8 + 4 + v.msrs().size() * MSR_BYTES;
        ByteBuffer b = ByteBuffer.allocate(size);
        Registers.Standard r = v.registers();
        for (long x : new long[] {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(), r.r8(),
                r.r9(), r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15(), r.rip(), r.rflags()}) {
            b.putLong(x);
        }
        for (Registers.Segment g : new Registers.Segment[] {s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(),
                s.ldt()}) {
            b.putLong(g.base()).putInt(g.limit()).putShort((short) g.selector()).put((byte) g.type())
                    .put((byte) g.dpl()).put((byte) ((g.present() ? PRESENT : 0) | (g.db() ? DB : 0) | (g.s() ? S : 0)
                            | (g.l() ? L : 0) | (g.g() ? G : 0) | (g.avl() ? AVL : 0)
                            | (g.unusable() ? UNUSABLE : 0)));
        }
        b.putLong(s.gdt().base()).putShort((short) s.gdt().limit());
        b.putLong(s.idt().base()).putShort((short) s.idt().limit());
        b.putLong(s.cr0()).putLong(s.cr2()).putLong(s.cr3()).putLong(s.cr4()).putLong(s.cr8()).putLong(s.efer())
                .putLong(s.apicBase());
        b.put((byte) bitmap.length);
        for (long w : bitmap) {
            b.putLong(w);
        }
        b.putInt(xsave.length).put(xsave);
        b.put((byte) v.xcrs().size());
        for (VcpuState.Xcr x : v.xcrs()) {
            b.putInt(x.index()).putLong(x.value());
        }
        b.putInt(lapic.length).put(lapic);
        b.putInt(events.length).put(events);
        b.putInt(v.mpState());
        VcpuState.DebugRegisters d = v.debugRegisters();
        b.putLong(d.dr0()).putLong(d.dr1()).putLong(d.dr2()).putLong(d.dr3()).putLong(d.dr6()).putLong(d.dr7())
                .putLong(d.flags());
        b.putInt(v.msrs().size());
        for (VcpuState.Msr m : v.msrs()) {
            b.putInt(m.index()).putLong(m.value());
        }
        return b.flip();
    }

    /** Decodes a body written in {@code version} (at most {@link #VERSION}'s fields are read). */
    public static VcpuState decode(int version, ByteBuffer body) throws StateException {
        ByteBuffer b = body.duplicate();
        try {
            long[] g = new long[18];
            for (int i = 0; i < g.length; i++) {
                g[i] = b.getLong();
            }
            Registers.Standard regs = new Registers.Standard(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8],
                    g[9], g[10], g[11], g[12], g[13], g[14], g[15], g[16], g[17]);
            Registers.Segment[] seg = new Registers.Segment[SEGMENTS];
            for (int i = 0; i < SEGMENTS; i++) {
                seg[i] = segment(b);
            }
            Registers.DescriptorTable gdt = new Registers.DescriptorTable(b.getLong(), b.getShort() & 0xffff);
            Registers.DescriptorTable idt = new Registers.DescriptorTable(b.getLong(), b.getShort() & 0xffff);
            long[] cr = new long[7];
            for (int i = 0; i < cr.length; i++) {
                cr[i] = b.getLong();
            }
            long[] bitmap = new long[count(b.get() & 0xff, MAX_BITMAP_WORDS, 8, b, "interrupt bitmap words")];
            for (int i = 0; i < bitmap.length; i++) {
                bitmap[i] = b.getLong();
            }
            Registers.Special sregs = new Registers.Special(seg[0], seg[1], seg[2], seg[3], seg[4], seg[5], seg[6],
                    seg[7], gdt, idt, cr[0], cr[1], cr[2], cr[3], cr[4], cr[5], cr[6], bitmap);
            byte[] xsave = bytes(b, Integer.MAX_VALUE, "XSAVE area");
            int xcrCount = count(b.get() & 0xff, MAX_XCRS, MSR_BYTES, b, "XCRs");
            List<VcpuState.Xcr> xcrs = new ArrayList<>(xcrCount);
            for (int i = 0; i < xcrCount; i++) {
                xcrs.add(new VcpuState.Xcr(b.getInt(), b.getLong()));
            }
            byte[] lapic = bytes(b, 1024, "LAPIC page");
            byte[] events = bytes(b, 64, "vCPU events");
            int mpState = b.getInt();
            VcpuState.DebugRegisters debug = new VcpuState.DebugRegisters(b.getLong(), b.getLong(), b.getLong(),
                    b.getLong(), b.getLong(), b.getLong(), b.getLong());
            int msrCount = count(b.getInt(), Integer.MAX_VALUE, MSR_BYTES, b, "MSRs");
            List<VcpuState.Msr> msrs = new ArrayList<>(msrCount);
            for (int i = 0; i < msrCount; i++) {
                msrs.add(new VcpuState.Msr(b.getInt(), b.getLong()));
            }
            if (version <= VERSION && b.hasRemaining()) {
                throw new StateException("vCPU state has " + b.remaining() + " bytes after its last field");
            }
            return new VcpuState(regs, sregs, xsave, xcrs, lapic, events, mpState, debug, msrs);
        } catch (BufferUnderflowException e) {
            throw new StateException("vCPU state ends at byte " + b.position() + ", inside a field");
        }
    }

    private static Registers.Segment segment(ByteBuffer b) throws StateException {
        long base = b.getLong();
        int limit = b.getInt();
        int selector = b.getShort() & 0xffff;
        int type = b.get() & 0xff;
        int dpl = b.get() & 0xff;
        int f = b.get() & 0xff;
        if ((f & ~(PRESENT | DB | S | L | G | AVL | UNUSABLE)) != 0) {
            throw new StateException("vCPU state: segment flags 0x" + Integer.toHexString(f) + " have unknown bits");
        }
        return new Registers.Segment(base, limit, selector, type, (f & PRESENT) != 0, dpl, (f & DB) != 0,
                (f & S) != 0, (f & L) != 0, (f & G) != 0, (f & AVL) != 0, (f & UNUSABLE) != 0);
    }

    /** A count of {@code unit}-byte items: at most {@code max}, and no more than the bytes left hold. */
    private static int count(int n, int max, int unit, ByteBuffer b, String what) throws StateException {
        if (n < 0 || n > max || (long) n * unit > b.remaining()) {
            throw new StateException("vCPU state claims " + (n & 0xffffffffL) + " " + what + (n > max && max
                    != Integer.MAX_VALUE ? " (at most " + max + ")" : "") + ", with " + b.remaining()
                    + " bytes left");
        }
        return n;
    }

    /** A length-prefixed byte string of at most {@code max} bytes. */
    private static byte[] bytes(ByteBuffer b, int max, String what) throws StateException {
        byte[] out = new byte[count(b.getInt(), max, 1, b, "bytes of " + what)];
        b.get(out);
        return out;
    }
}
