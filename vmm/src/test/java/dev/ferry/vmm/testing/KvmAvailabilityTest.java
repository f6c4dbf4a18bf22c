package dev.ferry.vmm.testing;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class KvmAvailabilityTest {

    @Test
    void missingDeviceAbortsWithTheReason(@TempDir Path dir) {
        String device = dir.resolve("kvm").toString();
        String reason = KvmAvailability.probe(device);
        assertEquals(device + " not found: is KVM enabled (kvm_amd/kvm_intel loaded)?", reason);
        TestAbortedException e = assertThrows(TestAbortedException.class,
                () -> KvmAvailability.decide(device, reason, "auto"));
        assertEquals("no usable " + device + ": " + reason, e.getMessage());
    }

    @Test
    void missingDeviceFailsWhenKvmIsRequired() {
        AssertionFailedError e = assertThrows(AssertionFailedError.class,
                () -> KvmAvailability.decide("/dev/kvm", "it is gone", "require"));
        assertEquals("ferry.kvm.tests=require but /dev/kvm is unavailable: it is gone", e.getMessage());
    }

    @Test
    void usableDevicePassesInEveryMode() {
        KvmAvailability.decide("/dev/kvm", null, "require");
        KvmAvailability.decide("/dev/kvm", null, null);
    }
}
