package dev.ferry.vmm.testing;

import dev.ferry.vmm.hypervisor.kvm.Kvm;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Gates tests that need a real /dev/kvm. Without one they are skipped with the reason, unless
 * the system property {@value #PROPERTY} is "require" (set by CI on machines that have KVM), in
 * which case they fail: a KVM machine must never report green with its guests skipped.
 */
public final class KvmAvailability {
    public static final String PROPERTY = "ferry.kvm.tests";
    public static final String REQUIRE = "require";

    private static String defaultDeviceReason;
    private static boolean probed;

    private KvmAvailability() {}

    /** Skips (or, with ferry.kvm.tests=require, fails) the calling test if KVM cannot be used. */
    public static void assumeKvm() {
        decide(Kvm.DEFAULT_DEVICE, defaultDeviceReason(), System.getProperty(PROPERTY));
    }

    /** Returns if KVM is usable (no reason); otherwise fails under {@code mode} "require", or aborts the test. */
    static void decide(String device, String unavailableReason, String mode) {
        if (unavailableReason == null) {
            return;
        }
        if (REQUIRE.equals(mode)) {
            Assertions.fail(PROPERTY + "=require but " + device + " is unavailable: " + unavailableReason);
        }
        Assumptions.abort("no usable " + device + ": " + unavailableReason);
    }

    /** Null if {@code device} opens and passes Kvm's checks, otherwise why not. */
    static String probe(String device) {
        try {
            Kvm.open(device).close();
            return null;
        } catch (RuntimeException | LinkageError e) {
            return e.getMessage() != null ? e.getMessage() : e.toString();
        }
    }

    private static synchronized String defaultDeviceReason() {
        if (!probed) {
            probed = true;
            defaultDeviceReason = probe(Kvm.DEFAULT_DEVICE);
        }
        return defaultDeviceReason;
    }
}
