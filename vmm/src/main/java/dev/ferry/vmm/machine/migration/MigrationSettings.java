package dev.ferry.vmm.machine.migration;

import java.util.Set;

/**
 * migrate-set-capabilities and migrate-set-parameters as one immutable value, with QEMU's
 * defaults (migration/options.c in QEMU 7.2) except max-bandwidth: QEMU limits to 128 MiB/s by
 * default, Ferry does not limit unless asked.
 */
public record MigrationSettings(Set<String> capabilities, long downtimeLimitMillis, long maxBandwidth,
                                int multifdChannels, int throttleInitial, int throttleIncrement,
                                int maxCpuThrottle, String tlsCreds, String tlsHostname) {

    /** Every capability QEMU 7.2 lists, in its order (query-migrate-capabilities reports them all). */
    public static final java.util.List<String> ALL_CAPABILITIES = java.util.List.of("xbzrle", "rdma-pin-all",
            "auto-converge", "zero-blocks", "compress", "events", "postcopy-ram", "x-colo", "release-ram",
            "block", "return-path", "pause-before-switchover", "multifd", "dirty-bitmaps", "postcopy-blocktime",
            "late-block-activate", "x-ignore-shared", "validate-uuid", "background-snapshot", "zero-copy-send",
            "postcopy-preempt");

    /**
     * The ones Ferry can switch on. zero-blocks and dirty-bitmaps concern block devices, which
     * Ferry has none of; return-path is always there on sockets; x-ignore-shared is reserved for
     * local migration (the guest RAM stays where it is).
     */
    public static final Set<String> SUPPORTED = Set.of("auto-converge", "zero-blocks", "events", "return-path",
            "pause-before-switchover", "multifd", "dirty-bitmaps", "late-block-activate", "x-ignore-shared",
            "validate-uuid");

    public static MigrationSettings defaults() {
        return new MigrationSettings(Set.of(), 300, 0, 2, 20, 10, 99, "", "");
    }

    public MigrationSettings {
        capabilities = Set.copyOf(capabilities);
    }

    public boolean has(String capability) {
        return capabilities.contains(capability);
    }

    public MigrationSettings withCapabilities(Set<String> caps) {
        return new MigrationSettings(caps, downtimeLimitMillis, maxBandwidth, multifdChannels, throttleInitial,
                throttleIncrement, maxCpuThrottle, tlsCreds, tlsHostname);
    }
}
