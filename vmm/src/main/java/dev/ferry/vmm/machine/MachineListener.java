package dev.ferry.vmm.machine;

/** Run-state changes and guest events, for QMP events and logs. Called on the control thread. */
public interface MachineListener {

    /**
     * The run state changed at {@code epochMicros} (host wall clock): usually now; for a
     * migration's switchover, when the vCPUs actually stopped, which the control thread learns
     * a little later.
     */
    default void stateChanged(RunState from, RunState to, long epochMicros) { }

    /** The machine reset; {@code guest} if the guest asked for it. */
    default void reset(boolean guest, String reason) { }

    /** The host pressed the power button (QMP POWERDOWN). */
    default void powerdown() { }

    /** The machine shut down; QMP SHUTDOWN's {@code guest} and {@code reason}. */
    default void shutdown(boolean guest, String reason) { }
}
