package dev.ferry.vmm.hypervisor;

import java.util.List;

/** A virtualisation backend (KVM today). One instance per VMM process; creates VMs. */
public interface Hypervisor extends AutoCloseable {

    /** Creates an empty VM: no memory, no vCPUs. */
    VirtualMachine createVirtualMachine();

    /** The CPUID leaves this backend can expose to a guest (KVM_GET_SUPPORTED_CPUID). */
    List<CpuidEntry> supportedCpuid();

    /** A one-line description for logs, e.g. "KVM API 12 on /dev/kvm". */
    String description();

    @Override
    void close();
}
