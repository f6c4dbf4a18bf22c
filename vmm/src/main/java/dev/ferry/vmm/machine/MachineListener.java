package dev.ferry.vmm.machine;

/** Run-state changes and guest events, for QMP events and logs. Called on the control thread. */
public interface MachineListener {

    default void stateChanged(RunState from, RunState to) { }

    /** The machine reset; {@code guest} if the guest asked for it. */
    default void reset(boolean guest, String reason) { }

    /** The host pressed the power button (QMP POWERDOWN). */
    default void powerdown() { }

    /** The machine shut down; QMP SHUTDOWN's {@code guest} and {@code reason}. */
    default void shutdown(boolean guest, String reason) { }
}
