package dev.ferry.vmm.cli;

import dev.ferry.migration.transport.MigrationUri;
import dev.ferry.vmm.machine.MachineConfig;
import dev.ferry.vmm.qmp.MonitorAddress;

import java.util.List;

/** What the command line asks for. */
public sealed interface CliRequest {

    /**
     * Run a machine with these QMP monitors; {@code waitForMonitor}: a monitor said wait=on, so
     * the guest starts only once a client has connected to it.
     */
    record Run(MachineConfig config, List<MonitorAddress> monitors, boolean waitForMonitor, Incoming incoming)
            implements CliRequest {
        public Run {
            monitors = List.copyOf(monitors);
        }
    }

    /**
     * {@code -incoming URI} or {@code -incoming defer}: the machine waits for a migration
     * instead of booting its firmware.
     *
     * @param uri the URI to listen on, or null for defer (migrate-incoming says where)
     */
    record Incoming(MigrationUri uri) {
        public boolean deferred() {
            return uri == null;
        }
    }

    record ShowVersion() implements CliRequest {}

    record ShowHelp() implements CliRequest {}
}
