package dev.ferry.vmm.cli;

import dev.ferry.vmm.machine.MachineConfig;
import dev.ferry.vmm.qmp.MonitorAddress;

import java.util.List;

/** What the command line asks for. */
public sealed interface CliRequest {

    /**
     * Run a machine with these QMP monitors; {@code waitForMonitor}: a monitor said wait=on, so
     * the guest starts only once a client has connected to it.
     */
    record Run(MachineConfig config, List<MonitorAddress> monitors, boolean waitForMonitor) implements CliRequest {
        public Run {
            monitors = List.copyOf(monitors);
        }
    }

    record ShowVersion() implements CliRequest {}

    record ShowHelp() implements CliRequest {}
}
