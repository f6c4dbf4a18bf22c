package dev.ferry.vmm.machine;

import dev.ferry.vmm.hypervisor.CpuidEntry;

import java.util.ArrayList;
import java.util.List;

/**
 * The CPUID a vCPU sees: what the hypervisor supports (like QEMU's {@code -cpu host}), with the
 * per-vCPU topology fields filled in so that each vCPU finds its own APIC ID.
 */
public final class CpuidTemplate {

    static final int LEAF_FEATURES = 0x1;
    static final int LEAF_EXT_TOPOLOGY = 0xB;
    static final int LEAF_V2_EXT_TOPOLOGY = 0x1F;
    static final int LEAF_AMD_EXT_APIC_ID = 0x8000_001E;
    /** CPUID.1:EBX[31:24] is the initial APIC ID (Intel SDM vol. 2A, CPUID). */
    static final int APIC_ID_SHIFT = 24;
    /** CPUID.1:EBX[23:16]: maximum addressable logical processor IDs in the package. */
    static final int LOGICAL_COUNT_SHIFT = 16;

    private final List<CpuidEntry> supported;
    private final int cpus;

    public CpuidTemplate(List<CpuidEntry> supported, int cpus) {
        this.supported = List.copyOf(supported);
        this.cpus = cpus;
    }

    public List<CpuidEntry> forVcpu(int apicId) {
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry e : supported) {
            out.add(switch (e.function()) {
                case LEAF_FEATURES -> {
                    int ebx = (e.ebx() & 0x0000_FFFF) | (apicId << APIC_ID_SHIFT)
                            | (Math.min(cpus, 255) << LOGICAL_COUNT_SHIFT);
                    yield e.withRegisters(e.eax(), ebx, e.ecx(), e.edx());
                }
                // EDX is the x2APIC ID of the current logical processor, in every subleaf.
                case LEAF_EXT_TOPOLOGY, LEAF_V2_EXT_TOPOLOGY -> e.withRegisters(e.eax(), e.ebx(), e.ecx(), apicId);
                case LEAF_AMD_EXT_APIC_ID -> e.withRegisters(apicId, e.ebx(), e.ecx(), e.edx());
                default -> e;
            });
        }
        return out;
    }
}
