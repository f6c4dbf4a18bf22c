package dev.ferry.vmm.machine;

import dev.ferry.vmm.hypervisor.Vcpu;
import dev.ferry.vmm.hypervisor.VcpuState;
import dev.ferry.vmm.hypervisor.VirtualMachine;

/**
 * A vCPU of its own throwaway VM, with a machine's CPUID and an in-kernel LAPIC, that never runs:
 * for rehearsing the vCPU state save and restore on a machine whose own vCPUs are running
 * (MigrationRehearsal). A running vCPU cannot be read without stopping it, and on the source
 * the first real save happened in the switchover's downtime, where its Java (buffers, 40 MSR
 * entries, records) ran interpreted: 0.3-0.5 ms around a 17 us KVM_GET_MSRS, ~0.8 ms in all.
 */
public final class ScratchVcpu implements AutoCloseable {
    private final VirtualMachine vm;
    private final Vcpu vcpu;

    ScratchVcpu(VirtualMachine vm, CpuidTemplate cpuid) {
        this.vm = vm;
        Vcpu v = null;
        try {
            vm.createInterruptController();     // a LAPIC, part of the state
            v = vm.createVcpu(0);
            v.setCpuid(cpuid.forVcpu(0));
        } catch (RuntimeException e) {
            if (v != null) {
                v.close();
            }
            vm.close();
            throw e;
        }
        this.vcpu = v;
    }

    /**
     * One save and restore, the calls of a switchover on the source and on the target. Returns
     * the state saved: a real vCPU's shape (its MSR list, XSAVE size), for rehearsing the codec.
     */
    public VcpuState saveAndRestore() {
        VcpuState s = vcpu.saveState();
        vcpu.restoreState(s);
        return s;
    }

    @Override
    public void close() {
        vcpu.close();
        vm.close();
    }
}
