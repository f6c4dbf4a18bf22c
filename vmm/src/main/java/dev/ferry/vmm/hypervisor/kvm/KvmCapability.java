package dev.ferry.vmm.hypervisor.kvm;

import java.util.Map;

/**
 * KVM capability numbers (include/uapi/linux/kvm.h, KVM_CAP_*), for
 * {@link Kvm#hasCapability(int)} and {@link KvmVm#checkExtension(int)}.
 */
public final class KvmCapability {
    public static final int KVM_CAP_IRQCHIP = 0;
    public static final int KVM_CAP_USER_MEMORY = 3;
    public static final int KVM_CAP_SET_TSS_ADDR = 4;
    public static final int KVM_CAP_EXT_CPUID = 7;
    public static final int KVM_CAP_NR_VCPUS = 9;
    public static final int KVM_CAP_NR_MEMSLOTS = 10;
    public static final int KVM_CAP_MP_STATE = 14;
    public static final int KVM_CAP_PIT2 = 33;
    public static final int KVM_CAP_VCPU_EVENTS = 41;
    public static final int KVM_CAP_DEBUGREGS = 50;
    public static final int KVM_CAP_XSAVE = 55;
    public static final int KVM_CAP_XCRS = 56;
    public static final int KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
    public static final int KVM_CAP_MAX_VCPUS = 66;
    public static final int KVM_CAP_IMMEDIATE_EXIT = 136;
    public static final int KVM_CAP_EXIT_HYPERCALL = 201;
    public static final int KVM_CAP_VM_COPY_ENC_CONTEXT_FROM = 197;
    public static final int KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM = 206;
    public static final int KVM_CAP_XSAVE2 = 208;

    private static final Map<Integer, String> NAMES = Map.ofEntries(
            Map.entry(KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"),
            Map.entry(KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"),
            Map.entry(KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"),
            Map.entry(KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"),
            Map.entry(KVM_CAP_NR_VCPUS, "KVM_CAP_NR_VCPUS"),
            Map.entry(KVM_CAP_NR_MEMSLOTS, "KVM_CAP_NR_MEMSLOTS"),
            Map.entry(KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"),
            Map.entry(KVM_CAP_PIT2, "KVM_CAP_PIT2"),
            Map.entry(KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS"),
            Map.entry(KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS"),
            Map.entry(KVM_CAP_XSAVE, "KVM_CAP_XSAVE"),
            Map.entry(KVM_CAP_XCRS, "KVM_CAP_XCRS"),
            Map.entry(KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"),
            Map.entry(KVM_CAP_MAX_VCPUS, "KVM_CAP_MAX_VCPUS"),
            Map.entry(KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"),
            Map.entry(KVM_CAP_EXIT_HYPERCALL, "KVM_CAP_EXIT_HYPERCALL"),
            Map.entry(KVM_CAP_VM_COPY_ENC_CONTEXT_FROM, "KVM_CAP_VM_COPY_ENC_CONTEXT_FROM"),
            Map.entry(KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM, "KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM"),
            Map.entry(KVM_CAP_XSAVE2, "KVM_CAP_XSAVE2"));

    private KvmCapability() {}

    /** "KVM_CAP_PIT2" for 33; "KVM capability N" for numbers not listed here. */
    public static String name(int capability) {
        String name = NAMES.get(capability);
        return name != null ? name : "KVM capability " + capability;
    }
}
