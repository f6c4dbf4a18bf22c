package dev.ferry.vmm.machine;

import dev.ferry.vmm.boot.MultibootLoader;
import dev.ferry.vmm.hypervisor.Hypervisor;
import dev.ferry.vmm.hypervisor.Vcpu;
import dev.ferry.vmm.hypervisor.VirtualMachine;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.RamRange;

import java.util.ArrayList;
import java.util.List;

/**
 * One boot of a machine: its KVM VM, the vCPUs and their control. A reset ends it and makes
 * another; guest RAM and the devices outlive it (Machine).
 */
final class BootedVm {

    final VirtualMachine vm;
    final List<Vcpu> vcpus;
    final VcpuControl control;

    private BootedVm(VirtualMachine vm, List<Vcpu> vcpus) {
        this.vm = vm;
        this.vcpus = List.copyOf(vcpus);
        this.control = new VcpuControl(this.vcpus.size());
    }

    /**
     * Creates the VM with the guest RAM mapped and an in-kernel interrupt controller, and its
     * vCPUs with the machine's CPUID; loads the kernel and sets the boot processor's registers.
     */
    static BootedVm create(Hypervisor hypervisor, GuestRam ram, MachineConfig config, CpuidTemplate cpuid,
                       byte[] kernelImage) {
        VirtualMachine vm = hypervisor.createVirtualMachine();
        List<Vcpu> vcpus = new ArrayList<>();
        try {
            int slot = 0;
            for (RamRange r : ram.layout().ranges()) {
                vm.mapMemory(slot++, r.guestPhysicalAddress(), r.size(), ram.hostAddress(r), false);
            }
            vm.createInterruptController();
            for (int i = 0; i < config.cpus(); i++) {
                Vcpu v = vm.createVcpu(i);
                vcpus.add(v);
                v.setCpuid(cpuid.forVcpu(i));
            }
            MultibootLoader.LoadedKernel kernel = MultibootLoader.load(kernelImage, config.append(), ram);
            Vcpu bsp = vcpus.get(0);
            bsp.setSpecialRegisters(BootCpuState.special(bsp.specialRegisters()));
            bsp.setRegisters(BootCpuState.standard(kernel));
        } catch (RuntimeException e) {
            vcpus.forEach(Vcpu::close);
            vm.close();
            throw e;
        }
        return new BootedVm(vm, vcpus);
    }

    /** Ends the vCPU threads (stopped already) and destroys the vCPUs and the VM. */
    void close() {
        control.terminate();
        vcpus.forEach(Vcpu::close);
        vm.close();
    }
}
