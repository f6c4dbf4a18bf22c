package dev.ferry.vmm.qmp.command;

import dev.ferry.vmm.qmp.QmpCommands;
import dev.ferry.vmm.qmp.QmpServerInfo;

import java.util.List;

/**
 * The commands of this Ferry version, in the order query-commands lists them. The command
 * classes know the protocol core ({@code dev.ferry.vmm.qmp}); the core knows none of them, and
 * whoever starts a server hands it this registry.
 */
public final class FerryCommands {

    private FerryCommands() {}

    public static QmpCommands registry(QmpServerInfo info) {
        return new QmpCommands(List.of(
                new QueryVersion(info),
                new QueryCommands(),
                new QueryQmpSchema(),
                new QueryStatus(),
                new QueryName(),
                new QueryKvm(),
                new QueryCpusFast(),
                new QueryMemorySizeSummary(),
                new Stop(),
                new Cont(),
                new SystemReset(),
                new SystemPowerdown(),
                new Quit(),
                new HumanMonitorCommand(),
                new Getfd(),
                new Closefd(),
                new AddFd(),
                new RemoveFd(),
                new Migrate(),
                new MigrateIncoming(),
                new MigrateCancel(),
                new MigrateContinue(),
                new MigrateSetCapabilities(),
                new QueryMigrateCapabilities(),
                new MigrateSetParameters(),
                new QueryMigrateParameters(),
                new QueryMigrate()));
    }
}
