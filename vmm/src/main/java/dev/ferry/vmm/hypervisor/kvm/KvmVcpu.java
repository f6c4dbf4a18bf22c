package dev.ferry.vmm.hypervisor.kvm;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.ferry.vmm.hypervisor.CpuidEntry;
import dev.ferry.vmm.hypervisor.HypervisorException;
import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.Vcpu;
import dev.ferry.vmm.hypervisor.VcpuExit;
import dev.ferry.vmm.os.Errno;
import dev.ferry.vmm.os.LibC;
import dev.ferry.vmm.os.VcpuKick;

import java.util.List;

import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_cpuid2;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_cpuid_entry2;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_dtable;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_mp_state;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_msr_entry;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_msrs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_regs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_segment;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_sregs;
import static dev.ferry.vmm.hypervisor.kvm.KvmCalls.failure;
import static dev.ferry.vmm.hypervisor.kvm.KvmCalls.hex;
import static dev.ferry.vmm.hypervisor.kvm.KvmCalls.lastError;

/**
 * A KVM vCPU fd (api.rst section 4, "vcpu ioctls") and its mmapped {@code kvm_run}.
 *
 * <p>{@link #run()} is the hot path: one direct-mapped ioctl, then {@link KvmRun#decode()} over the
 * shared mapping. {@link #requestExit()} combines {@code immediate_exit} (which covers a vCPU
 * thread that is about to enter KVM_RUN) with a {@link VcpuKick} signal (which covers one already
 * inside); together they leave no window in which the request is lost (api.rst, "immediate_exit").
 */
public final class KvmVcpu implements Vcpu {
    private final int id;
    private final int fd;
    private final long runAddress;
    private final int runSize;
    private final KvmRun run;
    private volatile VcpuKick kick;
    private volatile boolean closed;

    KvmVcpu(int id, int fd, int mmapSize) {
        this.id = id;
        this.fd = fd;
        long address = LibC.mmap(0, mmapSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
        if (address == LibC.MAP_FAILED) {
            HypervisorException failure = lastError("mmap(kvm_run of vcpu " + id + ", size=" + hex(mmapSize) + ")");
            LibC.close(fd);
            throw failure;
        }
        this.runAddress = address;
        this.runSize = mmapSize;
        this.run = new KvmRun(new Pointer(address).getByteBuffer(0, mmapSize));
    }

    @Override
    public int id() {
        return id;
    }

    /** The vCPU fd, for ioctls this class does not wrap yet. */
    public int fd() {
        return fd;
    }

    @Override
    public void bindToCurrentThread() {
        kick = VcpuKick.bindCurrentThread();
    }

    @Override
    public VcpuExit run() {
        if (closed) {
            throw new IllegalStateException("vcpu " + id + " is closed");
        }
        while (LibC.ioctl(fd, Ioctl.KVM_RUN, 0L) < 0) {
            int errno = LibC.errno();
            if (errno == Errno.EINTR) {
                // immediate_exit was set, or a signal (the kick, or any other) was pending.
                return KvmRun.INTERRUPTED;
            }
            if (errno != Errno.EAGAIN) {
                throw failure("KVM_RUN(vcpu=" + id + ")", errno);
            }
            // EAGAIN: an application processor waiting for INIT/SIPI (KVM_MP_STATE_UNINITIALIZED)
            // was woken by an event that did not start it; the kernel asks us to call again
            // (arch/x86/kvm/x86.c, kvm_arch_vcpu_ioctl_run). QEMU retries the same way.
        }
        return run.decode();
    }

    // Synchronized with close(), so the flag is never written into an unmapped kvm_run.
    @Override
    public synchronized void requestExit() {
        if (closed) {
            return;
        }
        run.setImmediateExit(true);
        VcpuKick target = kick;
        if (target != null) {
            target.kick();
        }
    }

    @Override
    public synchronized void clearExitRequest() {
        if (!closed) {
            run.setImmediateExit(false);
        }
    }

    @Override
    public Registers.Standard registers() {
        kvm_regs regs = new kvm_regs();
        if (LibC.ioctl(fd, Ioctl.KVM_GET_REGS, regs.getPointer()) < 0) {
            throw lastError("KVM_GET_REGS(vcpu=" + id + ")");
        }
        regs.read();
        return new Registers.Standard(regs.rax, regs.rbx, regs.rcx, regs.rdx, regs.rsi, regs.rdi, regs.rsp, regs.rbp,
                regs.r8, regs.r9, regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15, regs.rip, regs.rflags);
    }

    @Override
    public void setRegisters(Registers.Standard r) {
        kvm_regs regs = new kvm_regs();
        regs.rax = r.rax();
        regs.rbx = r.rbx();
        regs.rcx = r.rcx();
        regs.rdx = r.rdx();
        regs.rsi = r.rsi();
        regs.rdi = r.rdi();
        regs.rsp = r.rsp();
        regs.rbp = r.rbp();
        regs.r8 = r.r8();
        regs.r9 = r.r9();
        regs.r10 = r.r10();
        regs.r11 = r.r11();
        regs.r12 = r.r12();
        regs.r13 = r.r13();
        regs.r14 = r.r14();
        regs.r15 = r.r15();
        regs.rip = r.rip();
        regs.rflags = r.rflags();
        regs.write();
        if (LibC.ioctl(fd, Ioctl.KVM_SET_REGS, regs.getPointer()) < 0) {
            throw lastError("KVM_SET_REGS(vcpu=" + id + ", rip=" + hex(r.rip()) + ")");
        }
    }

    @Override
    public Registers.Special specialRegisters() {
        kvm_sregs sregs = new kvm_sregs();
        if (LibC.ioctl(fd, Ioctl.KVM_GET_SREGS, sregs.getPointer()) < 0) {
            throw lastError("KVM_GET_SREGS(vcpu=" + id + ")");
        }
        sregs.read();
        return new Registers.Special(segment(sregs.cs), segment(sregs.ds), segment(sregs.es), segment(sregs.fs),
                segment(sregs.gs), segment(sregs.ss), segment(sregs.tr), segment(sregs.ldt),
                table(sregs.gdt), table(sregs.idt), sregs.cr0, sregs.cr2, sregs.cr3, sregs.cr4, sregs.cr8,
                sregs.efer, sregs.apic_base, sregs.interrupt_bitmap.clone());
    }

    @Override
    public void setSpecialRegisters(Registers.Special s) {
        long[] bitmap = s.interruptBitmap();
        if (bitmap.length > kvm_sregs.INTERRUPT_BITMAP_WORDS) {
            throw new IllegalArgumentException("interrupt bitmap has " + bitmap.length + " words, KVM takes "
                    + kvm_sregs.INTERRUPT_BITMAP_WORDS);
        }
        kvm_sregs sregs = new kvm_sregs();
        fill(sregs.cs, s.cs());
        fill(sregs.ds, s.ds());
        fill(sregs.es, s.es());
        fill(sregs.fs, s.fs());
        fill(sregs.gs, s.gs());
        fill(sregs.ss, s.ss());
        fill(sregs.tr, s.tr());
        fill(sregs.ldt, s.ldt());
        fill(sregs.gdt, s.gdt());
        fill(sregs.idt, s.idt());
        sregs.cr0 = s.cr0();
        sregs.cr2 = s.cr2();
        sregs.cr3 = s.cr3();
        sregs.cr4 = s.cr4();
        sregs.cr8 = s.cr8();
        sregs.efer = s.efer();
        sregs.apic_base = s.apicBase();
        System.arraycopy(bitmap, 0, sregs.interrupt_bitmap, 0, bitmap.length);
        sregs.write();
        if (LibC.ioctl(fd, Ioctl.KVM_SET_SREGS, sregs.getPointer()) < 0) {
            throw lastError("KVM_SET_SREGS(vcpu=" + id + ", cr0=" + hex(s.cr0()) + ", cr4=" + hex(s.cr4())
                    + ", efer=" + hex(s.efer()) + ")");
        }
    }

    private static Registers.Segment segment(kvm_segment s) {
        return new Registers.Segment(s.base, s.limit, s.selector & 0xffff, s.type & 0xff, s.present != 0,
                s.dpl & 0xff, s.db != 0, s.s != 0, s.l != 0, s.g != 0, s.avl != 0, s.unusable != 0);
    }

    private static void fill(kvm_segment target, Registers.Segment s) {
        target.base = s.base();
        target.limit = s.limit();
        target.selector = (short) s.selector();
        target.type = (byte) s.type();
        target.present = flag(s.present());
        target.dpl = (byte) s.dpl();
        target.db = flag(s.db());
        target.s = flag(s.s());
        target.l = flag(s.l());
        target.g = flag(s.g());
        target.avl = flag(s.avl());
        target.unusable = flag(s.unusable());
    }

    private static Registers.DescriptorTable table(kvm_dtable t) {
        return new Registers.DescriptorTable(t.base, t.limit & 0xffff);
    }

    private static void fill(kvm_dtable target, Registers.DescriptorTable t) {
        target.base = t.base();
        target.limit = (short) t.limit();
    }

    private static byte flag(boolean value) {
        return (byte) (value ? 1 : 0);
    }

    @Override
    public void setCpuid(List<CpuidEntry> entries) {
        int headerSize = new kvm_cpuid2().size();
        int entrySize = new kvm_cpuid_entry2().size();
        Memory buffer = new Memory(headerSize + (long) Math.max(1, entries.size()) * entrySize);
        buffer.clear();
        kvm_cpuid2 header = new kvm_cpuid2(buffer);
        header.nent = entries.size();
        header.write();
        for (int i = 0; i < entries.size(); i++) {
            CpuidEntry e = entries.get(i);
            kvm_cpuid_entry2 entry = new kvm_cpuid_entry2(buffer.share(headerSize + (long) i * entrySize));
            entry.function = e.function();
            entry.index = e.index();
            entry.flags = e.flags();
            entry.eax = e.eax();
            entry.ebx = e.ebx();
            entry.ecx = e.ecx();
            entry.edx = e.edx();
            entry.write();
        }
        if (LibC.ioctl(fd, Ioctl.KVM_SET_CPUID2, buffer) < 0) {
            throw lastError("KVM_SET_CPUID2(vcpu=" + id + ", nent=" + entries.size() + ")");
        }
    }

    @Override
    public int mpState() {
        kvm_mp_state state = new kvm_mp_state();
        if (LibC.ioctl(fd, Ioctl.KVM_GET_MP_STATE, state.getPointer()) < 0) {
            throw lastError("KVM_GET_MP_STATE(vcpu=" + id + ")");
        }
        state.read();
        return state.mp_state;
    }

    @Override
    public void setMpState(int mpState) {
        kvm_mp_state state = new kvm_mp_state();
        state.mp_state = mpState;
        state.write();
        if (LibC.ioctl(fd, Ioctl.KVM_SET_MP_STATE, state.getPointer()) < 0) {
            throw lastError("KVM_SET_MP_STATE(vcpu=" + id + ", mp_state=" + mpState + ")");
        }
    }

    @Override
    public long[] msrs(int... indices) {
        Memory buffer = msrBuffer(indices, null);
        int read = LibC.ioctl(fd, Ioctl.KVM_GET_MSRS, buffer);
        if (read < 0) {
            throw lastError("KVM_GET_MSRS(vcpu=" + id + ", " + msrList(indices) + ")");
        }
        if (read < indices.length) {
            // KVM stops at the first MSR it cannot read and returns how many it did read.
            throw new HypervisorException("KVM_GET_MSRS(vcpu=" + id + ", " + msrList(indices) + ") failed: MSR "
                    + hex(indices[read] & 0xffffffffL) + " cannot be read");
        }
        int headerSize = new kvm_msrs().size();
        int entrySize = new kvm_msr_entry().size();
        long[] values = new long[indices.length];
        for (int i = 0; i < indices.length; i++) {
            kvm_msr_entry entry = new kvm_msr_entry(buffer.share(headerSize + (long) i * entrySize));
            entry.read();
            values[i] = entry.data;
        }
        return values;
    }

    @Override
    public void setMsrs(int[] indices, long[] values) {
        if (indices.length != values.length) {
            throw new IllegalArgumentException(indices.length + " MSR indices but " + values.length + " values");
        }
        Memory buffer = msrBuffer(indices, values);
        int written = LibC.ioctl(fd, Ioctl.KVM_SET_MSRS, buffer);
        if (written < 0) {
            throw lastError("KVM_SET_MSRS(vcpu=" + id + ", " + msrList(indices) + ")");
        }
        if (written < indices.length) {
            throw new HypervisorException("KVM_SET_MSRS(vcpu=" + id + ", " + msrList(indices) + ") failed: MSR "
                    + hex(indices[written] & 0xffffffffL) + " rejected value " + hex(values[written]));
        }
    }

    private static Memory msrBuffer(int[] indices, long[] values) {
        int headerSize = new kvm_msrs().size();
        int entrySize = new kvm_msr_entry().size();
        Memory buffer = new Memory(headerSize + (long) Math.max(1, indices.length) * entrySize);
        buffer.clear();
        kvm_msrs header = new kvm_msrs(buffer);
        header.nmsrs = indices.length;
        header.write();
        for (int i = 0; i < indices.length; i++) {
            kvm_msr_entry entry = new kvm_msr_entry(buffer.share(headerSize + (long) i * entrySize));
            entry.index = indices[i];
            entry.data = values == null ? 0 : values[i];
            entry.write();
        }
        return buffer;
    }

    private static String msrList(int[] indices) {
        StringBuilder list = new StringBuilder("msrs=[");
        for (int i = 0; i < indices.length; i++) {
            list.append(i == 0 ? "" : ", ").append(hex(indices[i] & 0xffffffffL));
        }
        return list.append(']').toString();
    }

    /**
     * Unmaps kvm_run and closes the fd. Must not race with {@link #run()} on the vCPU thread:
     * the exit views point into the mapping.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        LibC.munmap(runAddress, runSize);
        LibC.close(fd);
    }

    @Override
    public String toString() {
        return "KVM vcpu " + id + " (fd " + fd + ")";
    }
}
