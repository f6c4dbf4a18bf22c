package dev.ferry.vmm.qmp;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The registry of commands, by name, in registration order. */
public final class QmpCommands {

    private final Map<String, QmpCommand> byName = new LinkedHashMap<>();

    public QmpCommands(List<QmpCommand> commands) {
        for (QmpCommand c : commands) {
            if (byName.put(c.name(), c) != null) {
                throw new IllegalArgumentException("QMP command " + c.name() + " registered twice");
            }
        }
    }

    /** The commands of this Ferry version. */
    public static QmpCommands standard(QmpServerInfo info) {
        return new QmpCommands(List.of(
                new dev.ferry.vmm.qmp.command.QueryVersion(info),
                new dev.ferry.vmm.qmp.command.QueryCommands(),
                new dev.ferry.vmm.qmp.command.QueryQmpSchema(),
                new dev.ferry.vmm.qmp.command.QueryStatus(),
                new dev.ferry.vmm.qmp.command.QueryName(),
                new dev.ferry.vmm.qmp.command.QueryKvm(),
                new dev.ferry.vmm.qmp.command.QueryCpusFast(),
                new dev.ferry.vmm.qmp.command.QueryMemorySizeSummary(),
                new dev.ferry.vmm.qmp.command.Stop(),
                new dev.ferry.vmm.qmp.command.Cont(),
                new dev.ferry.vmm.qmp.command.SystemReset(),
                new dev.ferry.vmm.qmp.command.SystemPowerdown(),
                new dev.ferry.vmm.qmp.command.Quit(),
                new dev.ferry.vmm.qmp.command.HumanMonitorCommand(),
                new dev.ferry.vmm.qmp.command.Getfd(),
                new dev.ferry.vmm.qmp.command.Closefd(),
                new dev.ferry.vmm.qmp.command.AddFd(),
                new dev.ferry.vmm.qmp.command.RemoveFd(),
                new dev.ferry.vmm.qmp.command.Migrate(),
                new dev.ferry.vmm.qmp.command.MigrateIncoming(),
                new dev.ferry.vmm.qmp.command.MigrateCancel(),
                new dev.ferry.vmm.qmp.command.MigrateContinue(),
                new dev.ferry.vmm.qmp.command.MigrateSetCapabilities(),
                new dev.ferry.vmm.qmp.command.QueryMigrateCapabilities(),
                new dev.ferry.vmm.qmp.command.MigrateSetParameters(),
                new dev.ferry.vmm.qmp.command.QueryMigrateParameters(),
                new dev.ferry.vmm.qmp.command.QueryMigrate()));
    }

    public QmpCommand get(String name) {
        return byName.get(name);
    }

    public Collection<QmpCommand> all() {
        return byName.values();
    }
}
