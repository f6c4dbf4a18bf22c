package dev.ferry.vmm.machine;

/** What the vCPU loop does after an exit was handled. */
public sealed interface ExitAction {

    /** Re-enter the guest. */
    record Continue() implements ExitAction {}

    /** The VMM asked the vCPU to stop running for now (pause, reset, quit). */
    record Interrupted() implements ExitAction {}

    /** The vCPU halted with no interrupt controller to wake it (helper VM: batch done). */
    record Halted() implements ExitAction {}

    /** The guest shut the CPU down (triple fault). A PC resets; {@code -no-reboot} stops instead. */
    record GuestShutdown(String reason) implements ExitAction {}

    /** The guest asked for a reset or power-off through a platform event. */
    record SystemEvent(String reason, boolean reset) implements ExitAction {}

    /** The vCPU cannot continue (emulation failure, entry failure): QEMU's internal-error. */
    record Fatal(String message) implements ExitAction {}

    ExitAction CONTINUE = new Continue();
    ExitAction INTERRUPTED = new Interrupted();
    ExitAction HALTED = new Halted();
}
