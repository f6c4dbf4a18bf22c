package dev.ferry.vmm.hypervisor.kvm;

import dev.ferry.vmm.hypervisor.CpuidEntry;
import dev.ferry.vmm.testing.KvmAvailability;
import dev.ferry.vmm.testing.ProcSelf;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Tag("kvm")
class KvmTest {

    @BeforeEach
    void requireKvm() {
        KvmAvailability.assumeKvm();
    }

    @Test
    void opensAndReportsTheRequiredCapabilities() {
        try (Kvm kvm = Kvm.open()) {
            assertEquals("KVM API 12 on /dev/kvm", kvm.description());
            for (int capability : Kvm.REQUIRED_CAPABILITIES) {
                assertTrue(kvm.hasCapability(capability), KvmCapability.name(capability));
            }
            assertTrue(kvm.checkExtension(KvmCapability.KVM_CAP_NR_MEMSLOTS) > 1);
            assertTrue(kvm.vcpuMmapSize() >= KvmRun.STRUCT_SIZE);
        }
    }

    @Test
    void supportedCpuidHasTheBasicLeaves() {
        try (Kvm kvm = Kvm.open()) {
            List<CpuidEntry> cpuid = kvm.supportedCpuid();
            assertTrue(cpuid.stream().anyMatch(e -> e.function() == 0), "leaf 0");
            assertTrue(cpuid.stream().anyMatch(e -> e.function() == 1), "leaf 1");
            CpuidEntry leaf0 = cpuid.stream().filter(e -> e.function() == 0).findFirst().orElseThrow();
            assertTrue(leaf0.eax() >= 1, "max basic leaf");
        }
    }

    @Test
    void closingEverythingLeaksNoFileDescriptors() {
        // Only KVM's own descriptors are counted: other threads of this test JVM (a rehearsal or
        // a thread-priority pass left by an earlier test, class loading) open and close files
        // concurrently, and counting them made this test fail on a busy CI machine (42 vs 43).
        List<String> before = ProcSelf.kvmDescriptors();
        for (int i = 0; i < 5; i++) {
            try (Kvm kvm = Kvm.open(); KvmVm vm = kvm.createVirtualMachine()) {
                vm.createVcpu(0);
                vm.createVcpu(1);
            }
        }
        assertEquals(before, ProcSelf.kvmDescriptors());
    }

    @Test
    void vmFdAnswersCapabilityChecks() {
        try (Kvm kvm = Kvm.open(); KvmVm vm = kvm.createVirtualMachine()) {
            assertTrue(vm.fd() >= 0);
            assertTrue(vm.checkExtension(KvmCapability.KVM_CAP_USER_MEMORY) > 0);
            assertFalse(vm.checkExtension(-1) > 0, "unknown capability");
        }
    }
}
