package dev.ferry.migration.ram;

/**
 * The knobs of QEMU's migrate-set-parameters that the precopy engine uses.
 *
 * @param downtimeLimitMillis switch over once the rest is expected to take at most this long
 * @param maxBandwidth        bytes per second, 0 for unlimited
 * @param autoConverge        throttle the guest when it dirties memory faster than it is sent
 */
public record PrecopyParameters(long downtimeLimitMillis, long maxBandwidth, boolean autoConverge,
                                int throttleInitial, int throttleIncrement, int maxPasses) {

    /** QEMU's defaults: 300 ms, 128 MiB/s (Ferry: unlimited), throttle 20% + 10%. */
    public static PrecopyParameters defaults() {
        return new PrecopyParameters(300, 0, false, 20, 10, 1000);
    }

    public PrecopyParameters {
        if (downtimeLimitMillis < 0 || maxBandwidth < 0 || throttleInitial < 1 || throttleInitial > 99
                || throttleIncrement < 1 || throttleIncrement > 99 || maxPasses < 1) {
            throw new IllegalArgumentException("invalid precopy parameters");
        }
    }
}
