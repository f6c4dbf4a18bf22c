package dev.ferry.vmm.qmp;

import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.migration.MigrationController;

/** What a command can reach: the machine, the calling connection's descriptors, the registry. */
public interface QmpCall {

    /** The machine; null only in tests of commands that do not touch it. */
    Machine machine();

    /** Descriptors passed on this connection with SCM_RIGHTS (getfd / closefd). */
    QmpFdStore fds();

    QmpCommands commands();

    /** The VMM-wide descriptor sets (add-fd / remove-fd). */
    QmpFdSets fdSets();

    /** Migration state and commands; null when the VMM has no machine (tests). */
    MigrationController migration();

    /** The migration controller, or a QMP error if there is none. */
    default MigrationController requireMigration() {
        var m = migration();
        if (m == null) {
            throw new QmpException("Migration is not available");
        }
        return m;
    }
}
