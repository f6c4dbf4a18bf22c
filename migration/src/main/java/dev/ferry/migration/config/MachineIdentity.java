package dev.ferry.migration.config;

import java.util.ArrayList;
import java.util.List;

/**
 * What must be the same on both ends of a migration (the CONFIG record): guest RAM size, vCPU
 * count, confidential-computing mode and the firmware image's SHA-256. The target compares its
 * own identity with the source's before it accepts a single page.
 *
 * @param confidentialMode "none", or the confidential-guest object's type (e.g. "sev-sim-guest")
 */
public record MachineIdentity(long ramBytes, int vcpus, String confidentialMode, String firmwareSha256) {

    /** Every difference, in an operator's words; empty when the target can take this stream. */
    public List<String> mismatches(MachineIdentity target) {
        List<String> out = new ArrayList<>();
        if (ramBytes != target.ramBytes) {
            out.add("RAM size is " + mib(ramBytes) + " on the source and " + mib(target.ramBytes) + " here");
        }
        if (vcpus != target.vcpus) {
            out.add("vCPU count is " + vcpus + " on the source and " + target.vcpus + " here");
        }
        if (!String.valueOf(confidentialMode).equals(String.valueOf(target.confidentialMode))) {
            out.add("confidential mode is '" + confidentialMode + "' on the source and '" + target.confidentialMode
                    + "' here");
        }
        if (!String.valueOf(firmwareSha256).equals(String.valueOf(target.firmwareSha256))) {
            out.add("the firmware differs (SHA-256 " + shortHash(firmwareSha256) + " on the source, "
                    + shortHash(target.firmwareSha256) + " here)");
        }
        return out;
    }

    private static String mib(long bytes) {
        return bytes % (1L << 20) == 0 ? (bytes >> 20) + " MiB" : bytes + " bytes";
    }

    private static String shortHash(String h) {
        return h == null ? "none" : h.substring(0, Math.min(12, h.length()));
    }
}
