package dev.ferry.vmm.device;

/** What platform devices can ask of the machine. Called from vCPU threads. */
public interface PlatformEvents {

    /** The guest asked for a reset (i8042 pulse, system-control write). */
    void guestReset(String reason);

    /** The guest powered off. */
    void guestPoweroff(String reason);

    /** The guest wrote to the debug-exit device: the VMM exits with {@code status}. */
    void debugExit(int status);
}
