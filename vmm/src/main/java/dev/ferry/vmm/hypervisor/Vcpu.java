package dev.ferry.vmm.hypervisor;

import java.util.List;

/**
 * One virtual CPU. {@link #run()} is called only from the vCPU's own thread, after
 * {@link #bindToCurrentThread()}; {@link #requestExit()} may be called from any thread.
 */
public interface Vcpu extends AutoCloseable {

    int id();

    /** Records the calling thread as this vCPU's thread, so {@link #requestExit()} can kick it. */
    void bindToCurrentThread();

    /**
     * Enters the guest until the next exit that needs the VMM. For {@code IoIn} and
     * {@code MmioRead}, the caller fills the exit's data buffer before calling run() again.
     * Returns {@link VcpuExit.Interrupted} if {@link #requestExit()} was called.
     */
    VcpuExit run();

    /**
     * Makes a running or about-to-run {@link #run()} return {@link VcpuExit.Interrupted} soon
     * (KVM: {@code immediate_exit} plus a signal to the vCPU thread). Sticky until
     * {@link #clearExitRequest()}.
     */
    void requestExit();

    /** Called by the vCPU thread before re-entering the guest after handling a requested exit. */
    void clearExitRequest();

    Registers.Standard registers();

    void setRegisters(Registers.Standard registers);

    Registers.Special specialRegisters();

    void setSpecialRegisters(Registers.Special registers);

    void setCpuid(List<CpuidEntry> entries);

    /** Multiprocessing state (KVM_MP_STATE_*): runnable, uninitialised, halted, ... */
    int mpState();

    void setMpState(int state);

    /** Reads model-specific registers; returns values in the order of {@code indices}. */
    long[] msrs(int... indices);

    void setMsrs(int[] indices, long[] values);

    /**
     * Reads the complete state of this vCPU: registers, FPU/SSE/AVX state, XCRs, local APIC,
     * pending events, MP state, debug registers and the MSRs the hypervisor says must be
     * migrated. The vCPU must not be running: call it from the vCPU's thread between runs, or
     * while its thread is parked.
     */
    VcpuState saveState();

    /**
     * Writes a state from {@link #saveState()} (of this or another VM's vCPU) into this vCPU, in
     * the order the hypervisor needs. The vCPU must not be running and must already have the
     * CPUID the saved vCPU had. Throws {@link HypervisorException} naming the call and the value
     * that was refused; the vCPU is then partly restored and must not be run.
     */
    void restoreState(VcpuState state);

    @Override
    void close();
}
