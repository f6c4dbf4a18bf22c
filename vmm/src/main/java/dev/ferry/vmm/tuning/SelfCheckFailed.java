package dev.ferry.vmm.tuning;

import java.io.IOException;

/** A rehearsal's copy differs from its original: live migration may be broken in this build. */
public final class SelfCheckFailed extends IOException {
    public SelfCheckFailed(String message) {
        super(message);
    }
}
