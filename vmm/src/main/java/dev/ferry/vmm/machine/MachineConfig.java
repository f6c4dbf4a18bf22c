package dev.ferry.vmm.machine;

import java.nio.file.Path;
import java.util.List;

/**
 * Everything the command line says about the machine, validated and immutable.
 *
 * @param kernel   a Multiboot image, or null for the embedded firmware stub
 * @param pidfile  where to write the VMM's pid, or null
 */
public record MachineConfig(String name, long memoryBytes, int cpus, Path kernel, String append,
                            List<FwCfgFile> fwCfgFiles, SerialConfig serial, boolean noReboot,
                            boolean startPaused, Path pidfile) {

    public static final long DEFAULT_MEMORY = 128L << 20;
    /** KVM allows more; this is what the firmware stub supports and is tested with. */
    public static final int MAX_CPUS = 32;

    public MachineConfig {
        fwCfgFiles = List.copyOf(fwCfgFiles);
        append = append == null ? "" : append;
        if (cpus < 1 || cpus > MAX_CPUS) {
            throw new IllegalArgumentException("vCPU count " + cpus + " is outside 1-" + MAX_CPUS);
        }
    }

    /** A configuration with defaults: 128 MiB, one vCPU, the embedded firmware, serial on stdio. */
    public static MachineConfig defaults() {
        return new MachineConfig(null, DEFAULT_MEMORY, 1, null, "", List.of(), new SerialConfig.Stdio(),
                false, false, null);
    }

    /** One {@code -fw_cfg name=...,string=...} or {@code ...,file=...}: exactly one of the two. */
    public record FwCfgFile(String name, String string, Path file) {}
}
