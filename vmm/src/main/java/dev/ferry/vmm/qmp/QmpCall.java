package dev.ferry.vmm.qmp;

import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.migration.MigrationController;

/** What a command can reach: the machine, the calling connection's descriptors, the registry. */
public interface QmpCall {

    /** The machine the monitor controls. */
    Machine machine();

    /** Descriptors passed on this connection with SCM_RIGHTS (getfd / closefd). */
    QmpFdStore fds();

    QmpCommands commands();

    /** The VMM-wide descriptor sets (add-fd / remove-fd). */
    QmpFdSets fdSets();

    /** Migration state and commands. */
    MigrationController migration();
}
