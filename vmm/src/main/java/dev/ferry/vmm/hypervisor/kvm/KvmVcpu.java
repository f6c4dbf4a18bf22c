package dev.ferry.vmm.hypervisor.kvm;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import dev.ferry.vmm.hypervisor.CpuidEntry;
import dev.ferry.vmm.hypervisor.HypervisorException;
import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.Vcpu;
import dev.ferry.vmm.hypervisor.VcpuExit;
import dev.ferry.vmm.hypervisor.VcpuState;
import dev.ferry.vmm.os.Errno;
import dev.ferry.vmm.os.LibC;
import dev.ferry.vmm.os.VcpuKick;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_cpuid2;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_cpuid_entry2;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_lapic_state;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_msr_entry;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_msrs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_vcpu_events;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_xcrs;
import static dev.ferry.vmm.hypervisor.kvm.KvmAbi.kvm_xsave;
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
    /** IA32_TSC_DEADLINE: a guest TSC value; kept only once the LAPIC timer is in TSC-deadline mode. */
    static final int MSR_IA32_TSC_DEADLINE = 0x6e0;
    /** Offset of the XSAVE header's XSTATE_BV in the standard-format area (Intel SDM vol. 1, 13.4.2). */
    private static final int XSTATE_BV_OFFSET = 512;

    private final KvmVm vm;
    private final int id;
    private final int fd;
    private final long runAddress;
    private final int runSize;
    private final KvmRun run;
    private volatile VcpuKick kick;
    private volatile boolean closed;
    /*
     * What the host offers for vCPU state, asked of KVM once (KVM_CHECK_EXTENSION is an ioctl,
     * and the answers do not change during the VM's life): XSAVE area size, 0 = not asked yet;
     * whether KVM_GET_XSAVE2 exists; KVM_CAP_XCRS, 0 = not asked, 1 = yes, -1 = no.
     */
    private volatile int xsaveBytes;
    private volatile boolean xsave2;
    private volatile int xcrsSupport;

    KvmVcpu(KvmVm vm, int id, int fd, int mmapSize) {
        this.vm = vm;
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
        Memory regs = new Memory(RegisterLayout.REGS_SIZE);
        if (LibC.ioctl(fd, Ioctl.KVM_GET_REGS, regs) < 0) {
            throw lastError("KVM_GET_REGS(vcpu=" + id + ")");
        }
        return RegisterLayout.readRegs(regs);
    }

    @Override
    public void setRegisters(Registers.Standard r) {
        Memory regs = new Memory(RegisterLayout.REGS_SIZE);
        RegisterLayout.writeRegs(regs, r);
        if (LibC.ioctl(fd, Ioctl.KVM_SET_REGS, regs) < 0) {
            throw lastError("KVM_SET_REGS(vcpu=" + id + ", rip=" + hex(r.rip()) + ")");
        }
    }

    @Override
    public Registers.Special specialRegisters() {
        Memory sregs = new Memory(RegisterLayout.SREGS_SIZE);
        if (LibC.ioctl(fd, Ioctl.KVM_GET_SREGS, sregs) < 0) {
            throw lastError("KVM_GET_SREGS(vcpu=" + id + ")");
        }
        return RegisterLayout.readSregs(sregs);
    }

    @Override
    public void setSpecialRegisters(Registers.Special s) {
        Memory sregs = new Memory(RegisterLayout.SREGS_SIZE);
        RegisterLayout.writeSregs(sregs, s);
        if (LibC.ioctl(fd, Ioctl.KVM_SET_SREGS, sregs) < 0) {
            throw lastError("KVM_SET_SREGS(vcpu=" + id + ", cr0=" + hex(s.cr0()) + ", cr4=" + hex(s.cr4())
                    + ", efer=" + hex(s.efer()) + ")");
        }
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
        Memory state = new Memory(Integer.BYTES); // struct kvm_mp_state { __u32 mp_state; }
        if (LibC.ioctl(fd, Ioctl.KVM_GET_MP_STATE, state) < 0) {
            throw lastError("KVM_GET_MP_STATE(vcpu=" + id + ")");
        }
        return state.getInt(0);
    }

    @Override
    public void setMpState(int mpState) {
        Memory state = new Memory(Integer.BYTES);
        state.setInt(0, mpState);
        if (LibC.ioctl(fd, Ioctl.KVM_SET_MP_STATE, state) < 0) {
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
        long[] values = new long[indices.length];
        for (int i = 0; i < indices.length; i++) {
            values[i] = msrValue(buffer, i);
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

    /**
     * {@inheritDoc}
     *
     * <p>KVM_GET_MP_STATE is read first: it makes KVM process a pending INIT or SIPI
     * (kvm_apic_accept_events), which can rewrite CS, RIP and the other registers, so the
     * registers read afterwards belong to the same moment as the MP state.
     */
    @Override
    public VcpuState saveState() {
        int mp = mpState();
        Registers.Standard regs = registers();
        Registers.Special sregs = specialRegisters();
        byte[] xsave = xsave();
        List<VcpuState.Xcr> xcrs = xcrs();
        byte[] lapic = lapic();
        List<VcpuState.Msr> msrs = savedMsrs();
        byte[] events = vcpuEvents();
        VcpuState.DebugRegisters debug = debugRegisters();
        return new VcpuState(regs, sregs, xsave, xcrs, lapic, events, mp, debug, msrs);
    }

    /**
     * {@inheritDoc}
     *
     * <p>The order matters; it is that of QEMU's kvm_arch_put_registers (target/i386/kvm/kvm.c),
     * with the LAPIC (which QEMU restores from its APIC device, before the CPU) placed where its
     * dependencies are met:
     * <ol>
     *   <li>special registers: CR0/CR4/EFER define the mode every later value is checked in, and
     *       the APIC base (xAPIC or x2APIC) defines how KVM_SET_LAPIC reads the APIC ID;
     *   <li>general registers: before the vCPU events, because KVM_SET_REGS drops a pending
     *       exception (__set_regs clears it) that KVM_SET_VCPU_EVENTS must restore;
     *   <li>XSAVE area, then XCRs (QEMU's order; KVM checks both against the CPUID the vCPU was
     *       given, not against each other);
     *   <li>LAPIC: after the APIC base, and before the MSRs because KVM_SET_LAPIC reprograms the
     *       APIC timer from the register page and clears a TSC deadline armed before it;
     *   <li>MSRs, the TSC first (the TSC deadline is a TSC value) and IA32_TSC_DEADLINE last.
     *       KVM may not keep the TSC exactly as written: it treats a write within about a second
     *       of the TSC it expects as an attempt to synchronise vCPUs and keeps its own offset
     *       (kvm_synchronize_tsc, arch/x86/kvm/x86.c), and on kvm-pvm the guest TSC is the host
     *       TSC, so the write is accepted and has no effect;
     *   <li>vCPU events: after the registers (see 2); before the MP state because
     *       KVM_SET_MP_STATE refuses INIT_RECEIVED/SIPI_RECEIVED depending on the SMM and
     *       latched-INIT state that the events carry;
     *   <li>MP state;
     *   <li>debug registers (independent of the rest; last as in QEMU).
     * </ol>
     * Sizes are checked before any ioctl, so a malformed state fails without touching the vCPU;
     * a value KVM refuses fails with the vCPU partly restored.
     */
    @Override
    public void restoreState(VcpuState state) {
        byte[] xsave = state.xsave();
        byte[] lapic = state.lapic();
        byte[] events = state.vcpuEvents();
        int xsaveSize = xsaveSize();
        checkXsave(xsave, xsaveSize);
        if (lapic.length != 0 && lapic.length != kvm_lapic_state.KVM_APIC_REG_SIZE) {
            throw new HypervisorException("KVM_SET_LAPIC(vcpu=" + id + ", size=" + lapic.length + ") refused: the "
                    + "LAPIC page has " + lapic.length + " bytes, struct kvm_lapic_state has "
                    + kvm_lapic_state.KVM_APIC_REG_SIZE);
        }
        if (events.length != VCPU_EVENTS_SIZE) {
            throw new HypervisorException("KVM_SET_VCPU_EVENTS(vcpu=" + id + ", size=" + events.length + ") refused: "
                    + "struct kvm_vcpu_events has " + VCPU_EVENTS_SIZE + " bytes");
        }
        if (state.xcrs().size() > kvm_xcrs.KVM_MAX_XCRS) {
            throw new HypervisorException("KVM_SET_XCRS(vcpu=" + id + ", nr_xcrs=" + state.xcrs().size() + ") refused: "
                    + "KVM takes at most " + kvm_xcrs.KVM_MAX_XCRS);
        }

        setSpecialRegisters(state.specialRegisters());
        setRegisters(state.registers());
        setXsave(xsave, xsaveSize);
        setXcrs(state.xcrs());
        if (lapic.length != 0) {
            setLapic(lapic);
        }
        restoreMsrs(state.msrs());
        setVcpuEvents(events);
        setMpState(state.mpState());
        setDebugRegisters(state.debugRegisters());
    }

    /**
     * Bytes KVM copies for KVM_GET_XSAVE2 and KVM_SET_XSAVE: what KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2)
     * on the VM fd says (at least 4096; more once dynamic features such as AMX are enabled), or
     * 4096 without XSAVE2 (api.rst, KVM_SET_XSAVE and KVM_GET_XSAVE2).
     */
    private int xsaveSize() {
        int known = xsaveBytes;
        if (known != 0) {
            return known;
        }
        int size = vm.checkExtension(KvmCapability.KVM_CAP_XSAVE2);
        if (size > 0) {
            xsave2 = true;
            return xsaveBytes = Math.max(size, kvm_xsave.SIZE);
        }
        if (vm.checkExtension(KvmCapability.KVM_CAP_XSAVE) <= 0) {
            throw new HypervisorException("vcpu " + id + ": KVM lacks KVM_CAP_XSAVE, needed to save and restore "
                    + "FPU/SSE/AVX state");
        }
        return xsaveBytes = kvm_xsave.SIZE;
    }

    /** Whether KVM has KVM_GET_XCRS/KVM_SET_XCRS (KVM_CAP_XCRS); asked once. */
    private boolean hasXcrs() {
        int known = xcrsSupport;
        if (known == 0) {
            xcrsSupport = known = vm.checkExtension(KvmCapability.KVM_CAP_XCRS) > 0 ? 1 : -1;
        }
        return known > 0;
    }

    /** KVM_GET_XSAVE2 if the host has it (api.rst, KVM_GET_XSAVE2), otherwise KVM_GET_XSAVE. */
    private byte[] xsave() {
        int size = xsaveSize();
        boolean xsave2 = this.xsave2;
        Memory buffer = new Memory(size);
        buffer.clear();
        String call = xsave2 ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE";
        if (LibC.ioctl(fd, xsave2 ? Ioctl.KVM_GET_XSAVE2 : Ioctl.KVM_GET_XSAVE, buffer) < 0) {
            throw lastError(call + "(vcpu=" + id + ", size=" + size + ")");
        }
        return buffer.getByteArray(0, size);
    }

    private void checkXsave(byte[] area, int size) {
        if (area.length < kvm_xsave.SIZE) {
            throw new HypervisorException("KVM_SET_XSAVE(vcpu=" + id + ", size=" + area.length + ") refused: the XSAVE "
                    + "area has " + area.length + " bytes, struct kvm_xsave has at least " + kvm_xsave.SIZE);
        }
        // A larger area from a host with more dynamic features (e.g. AMX) fits if what we
        // cannot pass on is all zeros (components in their initial state).
        for (int i = size; i < area.length; i++) {
            if (area[i] != 0) {
                throw new HypervisorException("KVM_SET_XSAVE(vcpu=" + id + ", size=" + area.length + ") refused: the "
                        + "XSAVE area holds state at offset " + hex(i) + ", beyond the " + size + " bytes this VM "
                        + "takes (KVM_CAP_XSAVE2)");
            }
        }
    }

    private void setXsave(byte[] area, int size) {
        // KVM_SET_XSAVE copies exactly `size` bytes (api.rst, KVM_SET_XSAVE): a shorter saved
        // area (from a host without XSAVE2 or with fewer features) is padded with zeros.
        Memory buffer = new Memory(size);
        buffer.clear();
        buffer.write(0, area, 0, Math.min(area.length, size));
        if (LibC.ioctl(fd, Ioctl.KVM_SET_XSAVE, buffer) < 0) {
            throw lastError("KVM_SET_XSAVE(vcpu=" + id + ", size=" + size + ", xstate_bv="
                    + hex(buffer.getLong(XSTATE_BV_OFFSET)) + ")");
        }
    }

    /** KVM_GET_XCRS (api.rst); an empty list on a host without KVM_CAP_XCRS. */
    private List<VcpuState.Xcr> xcrs() {
        if (!hasXcrs()) {
            return List.of();
        }
        Memory xcrs = new Memory(RegisterLayout.XCRS_SIZE);
        if (LibC.ioctl(fd, Ioctl.KVM_GET_XCRS, xcrs) < 0) {
            throw lastError("KVM_GET_XCRS(vcpu=" + id + ")");
        }
        return RegisterLayout.readXcrs(xcrs);
    }

    private void setXcrs(List<VcpuState.Xcr> list) {
        if (list.isEmpty()) {
            return;
        }
        Memory xcrs = new Memory(RegisterLayout.XCRS_SIZE);
        RegisterLayout.writeXcrs(xcrs, list);
        if (LibC.ioctl(fd, Ioctl.KVM_SET_XCRS, xcrs) < 0) {
            StringBuilder described = new StringBuilder();
            for (VcpuState.Xcr x : list) {
                described.append(", xcr").append(x.index() & 0xffffffffL).append('=').append(hex(x.value()));
            }
            throw lastError("KVM_SET_XCRS(vcpu=" + id + described + ")");
        }
    }

    /** KVM_GET_LAPIC (api.rst); empty if the VM has no in-kernel LAPIC (ENXIO). */
    private byte[] lapic() {
        Memory lapic = new Memory(kvm_lapic_state.KVM_APIC_REG_SIZE);
        if (LibC.ioctl(fd, Ioctl.KVM_GET_LAPIC, lapic) < 0) {
            int errno = LibC.errno();
            if (errno == Errno.ENXIO) {
                return new byte[0];
            }
            throw failure("KVM_GET_LAPIC(vcpu=" + id + ")", errno);
        }
        return lapic.getByteArray(0, kvm_lapic_state.KVM_APIC_REG_SIZE);
    }

    private void setLapic(byte[] page) {
        Memory lapic = new Memory(kvm_lapic_state.KVM_APIC_REG_SIZE);
        lapic.write(0, page, 0, page.length);
        if (LibC.ioctl(fd, Ioctl.KVM_SET_LAPIC, lapic) < 0) {
            throw lastError("KVM_SET_LAPIC(vcpu=" + id + ")");
        }
    }

    /** KVM_GET_VCPU_EVENTS (api.rst), as the 64 raw bytes of struct kvm_vcpu_events. */
    private byte[] vcpuEvents() {
        Memory events = new Memory(VCPU_EVENTS_SIZE);
        if (LibC.ioctl(fd, Ioctl.KVM_GET_VCPU_EVENTS, events) < 0) {
            throw lastError("KVM_GET_VCPU_EVENTS(vcpu=" + id + ")");
        }
        return events.getByteArray(0, VCPU_EVENTS_SIZE);
    }

    private void setVcpuEvents(byte[] raw) {
        Memory buffer = new Memory(VCPU_EVENTS_SIZE);
        buffer.write(0, raw, 0, raw.length);
        if (LibC.ioctl(fd, Ioctl.KVM_SET_VCPU_EVENTS, buffer) < 0) {
            int errno = LibC.errno();
            kvm_vcpu_events events = new kvm_vcpu_events();
            events.getPointer().write(0, raw, 0, raw.length);
            events.read();
            throw failure("KVM_SET_VCPU_EVENTS(vcpu=" + id + ", flags=" + hex(events.flags & 0xffffffffL)
                    + ", exception=" + (events.exception.injected != 0 || events.exception.pending != 0
                            ? "#" + (events.exception.nr & 0xff) : "none")
                    + ", nmi_pending=" + events.nmi.pending + ")", errno);
        }
    }

    /** KVM_GET_DEBUGREGS (api.rst). */
    private VcpuState.DebugRegisters debugRegisters() {
        Memory regs = new Memory(RegisterLayout.DEBUGREGS_SIZE);
        if (LibC.ioctl(fd, Ioctl.KVM_GET_DEBUGREGS, regs) < 0) {
            throw lastError("KVM_GET_DEBUGREGS(vcpu=" + id + ")");
        }
        return RegisterLayout.readDebugRegs(regs);
    }

    private void setDebugRegisters(VcpuState.DebugRegisters d) {
        Memory regs = new Memory(RegisterLayout.DEBUGREGS_SIZE);
        RegisterLayout.writeDebugRegs(regs, d);
        if (LibC.ioctl(fd, Ioctl.KVM_SET_DEBUGREGS, regs) < 0) {
            throw lastError("KVM_SET_DEBUGREGS(vcpu=" + id + ", dr6=" + hex(d.dr6()) + ", dr7=" + hex(d.dr7())
                    + ", flags=" + hex(d.flags()) + ")");
        }
    }

    /**
     * Every MSR of {@link Kvm#msrIndexList()} this vCPU can read. KVM_GET_MSRS stops at the first
     * MSR it cannot read and returns how many entries it filled (api.rst, KVM_GET_MSRS), so
     * each short count skips that one index and asks again for the rest: one ioctl per
     * unreadable MSR, plus one.
     */
    private List<VcpuState.Msr> savedMsrs() {
        int[] list = vm.kvm().msrIndexList();
        List<VcpuState.Msr> out = new ArrayList<>(list.length);
        int start = 0;
        while (start < list.length) {
            int[] rest = Arrays.copyOfRange(list, start, list.length);
            Memory buffer = msrBuffer(rest, null);
            int read = LibC.ioctl(fd, Ioctl.KVM_GET_MSRS, buffer);
            if (read < 0) {
                throw lastError("KVM_GET_MSRS(vcpu=" + id + ", " + msrList(rest) + ")");
            }
            for (int i = 0; i < Math.min(read, rest.length); i++) {
                out.add(new VcpuState.Msr(rest[i], msrValue(buffer, i)));
            }
            start += read + 1;
        }
        return out;
    }

    /** KVM_SET_MSRS with the TSC first and IA32_TSC_DEADLINE last (see {@link #restoreState}). */
    private void restoreMsrs(List<VcpuState.Msr> msrs) {
        List<VcpuState.Msr> ordered = new ArrayList<>(msrs.size());
        msrs.stream().filter(m -> m.index() == VcpuState.MSR_IA32_TSC).forEach(ordered::add);
        msrs.stream().filter(m -> m.index() != VcpuState.MSR_IA32_TSC && m.index() != MSR_IA32_TSC_DEADLINE)
                .forEach(ordered::add);
        msrs.stream().filter(m -> m.index() == MSR_IA32_TSC_DEADLINE).forEach(ordered::add);
        int[] indices = new int[ordered.size()];
        long[] values = new long[ordered.size()];
        for (int i = 0; i < indices.length; i++) {
            indices[i] = ordered.get(i).index();
            values[i] = ordered.get(i).value();
        }
        if (indices.length > 0) {
            setMsrs(indices, values);
        }
    }

    /*
     * struct kvm_msrs (nmsrs, pad, then entries) and struct kvm_msr_entry (index, reserved, data),
     * api.rst KVM_GET_MSRS. Filled and read at raw offsets: a JNA Structure per MSR costs
     * reflection for each of the ~100 MSRs a switchover saves and restores.
     */
    private static final int VCPU_EVENTS_SIZE = new kvm_vcpu_events().size();

    private static final int MSRS_HEADER_SIZE = new kvm_msrs().size();
    private static final int MSR_ENTRY_SIZE = new kvm_msr_entry().size();
    private static final int MSR_ENTRY_DATA = 8;

    private static Memory msrBuffer(int[] indices, long[] values) {
        Memory buffer = new Memory(MSRS_HEADER_SIZE + (long) Math.max(1, indices.length) * MSR_ENTRY_SIZE);
        buffer.clear();
        buffer.setInt(0, indices.length);
        for (int i = 0; i < indices.length; i++) {
            long entry = MSRS_HEADER_SIZE + (long) i * MSR_ENTRY_SIZE;
            buffer.setInt(entry, indices[i]);
            buffer.setLong(entry + MSR_ENTRY_DATA, values == null ? 0 : values[i]);
        }
        return buffer;
    }

    private static long msrValue(Memory buffer, int i) {
        return buffer.getLong(MSRS_HEADER_SIZE + (long) i * MSR_ENTRY_SIZE + MSR_ENTRY_DATA);
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
