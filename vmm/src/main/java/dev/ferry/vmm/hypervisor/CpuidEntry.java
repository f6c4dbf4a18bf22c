package dev.ferry.vmm.hypervisor;

/** One CPUID leaf/subleaf as KVM describes it (struct kvm_cpuid_entry2). */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {

    /** KVM_CPUID_FLAG_SIGNIFCANT_INDEX: the leaf depends on ECX (the index). */
    public static final int FLAG_SIGNIFICANT_INDEX = 1;

    public CpuidEntry withRegisters(int eax, int ebx, int ecx, int edx) {
        return new CpuidEntry(function, index, flags, eax, ebx, ecx, edx);
    }
}
