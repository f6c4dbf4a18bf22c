package dev.ferry.vmm.device;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Ferry's system-control block (base from the firmware ABI, SYSCTL_PORT): the guest polls
 * pending requests at +0 (bit 0: power button pressed; reading acknowledges) and performs
 * actions by writing +4 (1 = power off, 2 = reset). Stands in for ACPI's power button and PM1
 * control register, which the firmware stub does not implement.
 */
public final class SystemControl implements IoDevice, Persistent<SystemControlState> {

    public static final int PORT_COUNT = 8;

    public static final int REQUESTS = 0;
    public static final int ACTION = 4;
    public static final int REQUEST_POWERDOWN = 0b0000_0001;
    public static final int ACTION_POWEROFF = 1;
    public static final int ACTION_RESET = 2;

    private final PlatformEvents events;
    private final AtomicInteger pending = new AtomicInteger();

    public SystemControl(PlatformEvents events) {
        this.events = events;
    }

    /** The host presses the power button (QMP system_powerdown). */
    public void requestPowerdown() {
        pending.getAndUpdate(p -> p | REQUEST_POWERDOWN);
    }

    @Override
    public long read(long offset, int size) {
        return offset == REQUESTS ? pending.getAndSet(0) : 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset != ACTION) {
            return;
        }
        if (value == ACTION_POWEROFF) {
            events.guestPoweroff("guest-shutdown");
        } else if (value == ACTION_RESET) {
            events.guestReset("guest-reset");
        }
    }

    @Override
    public SystemControlState state() {
        return new SystemControlState(pending.get());
    }

    @Override
    public void restore(SystemControlState s) {
        pending.set(s.pendingRequests());
    }
}
