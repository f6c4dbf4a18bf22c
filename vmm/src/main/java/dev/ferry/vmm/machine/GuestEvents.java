package dev.ferry.vmm.machine;

import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.device.PlatformEvents;

import java.util.concurrent.Executor;

/**
 * What the guest asks of the machine as a whole: from a device (PlatformEvents: reset, power
 * off, debug exit) or from a vCPU thread that stopped on an exit only the machine can handle
 * (ExitAction). Called on vCPU threads; each becomes a step of the machine's control thread.
 */
final class GuestEvents implements PlatformEvents {

    private final Machine machine;
    private final Executor control;

    GuestEvents(Machine machine, Executor control) {
        this.machine = machine;
        this.control = control;
    }

    @Override
    public void guestReset(String reason) {
        control.execute(() -> machine.onGuestReset(reason));
    }

    @Override
    public void guestPoweroff(String reason) {
        control.execute(() -> machine.shutdownNow(true, reason, 0));
    }

    @Override
    public void debugExit(int status) {
        control.execute(() -> machine.shutdownNow(true, "guest-shutdown", status));
    }

    /** A vCPU thread stopped on {@code action}, which only the machine can handle. */
    void vcpuEvent(int vcpuId, ExitAction action) {
        control.execute(() -> {
            if (action instanceof ExitAction.GuestShutdown s) {
                Log.info(s.reason());
                machine.onGuestReset("triple-fault");
            } else if (action instanceof ExitAction.SystemEvent e) {
                if (e.reset()) {
                    machine.onGuestReset(e.reason());
                } else {
                    machine.shutdownNow(true, e.reason(), 0);
                }
            } else if (action instanceof ExitAction.Fatal f) {
                machine.fail(f.message());
            } else if (action instanceof ExitAction.Halted) {
                machine.fail("vCPU " + vcpuId + " executed HLT with interrupts unavailable");
            }
        });
    }
}
