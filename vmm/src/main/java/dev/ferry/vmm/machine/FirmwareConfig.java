package dev.ferry.vmm.machine;

import dev.ferry.vmm.boot.BootException;
import dev.ferry.vmm.device.FwCfg;
import dev.ferry.vmm.memory.MemoryLayout;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

/** The fw_cfg contents of a machine: QEMU's standard items plus the user's -fw_cfg files. */
final class FirmwareConfig {

    /** Tells the firmware which page-state channel to use (docs/design.md, "The page-state channel"): port IO. */
    static final String PAGE_STATE_FILE = "opt/ferry/page-state";
    static final String PAGE_STATE_PORT_CHANNEL = "port";
    /** QEMU refuses fw_cfg files above this size from the command line too (it is RAM). */
    static final long MAX_FILE_SIZE = 16L << 20;

    private FirmwareConfig() {}

    static FwCfg build(MachineConfig config, MemoryLayout layout) {
        FwCfg.Builder b = FwCfg.builder()
                .u64(FwCfg.KEY_RAM_SIZE, layout.ramSize())
                .u16(FwCfg.KEY_NB_CPUS, config.cpus())
                .u16(FwCfg.KEY_MAX_CPUS, config.cpus())
                .u16(FwCfg.KEY_NOGRAPHIC, 1);
        for (MachineConfig.FwCfgFile f : config.fwCfgFiles()) {
            b.file(f.name(), contents(f));
        }
        if (!b.hasFile(PAGE_STATE_FILE)) {
            b.file(PAGE_STATE_FILE, PAGE_STATE_PORT_CHANNEL.getBytes(StandardCharsets.US_ASCII));
        }
        return b.build();
    }

    private static byte[] contents(MachineConfig.FwCfgFile f) {
        if (f.string() != null) {
            return f.string().getBytes(StandardCharsets.UTF_8);
        }
        try {
            long size = Files.size(f.file());
            if (size > MAX_FILE_SIZE) {
                throw new BootException("-fw_cfg " + f.name() + ": file '" + f.file() + "' is larger than 16 MiB");
            }
            return Files.readAllBytes(f.file());
        } catch (IOException e) {
            throw new BootException("-fw_cfg " + f.name() + ": cannot read file '" + f.file() + "': " + e.getMessage(), e);
        }
    }
}
