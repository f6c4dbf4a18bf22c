package dev.ferry.vmm.qmp;

import dev.ferry.vmm.machine.migration.MigrationController;
import dev.ferry.vmm.machine.migration.MigrationListener;
import dev.ferry.vmm.machine.migration.MigrationStatus;

import java.util.Arrays;

/**
 * MIGRATION {"status"} and MIGRATION_PASS {"pass"} (qapi/migration.json), sent only while the
 * {@code events} capability is on, as QEMU does.
 */
public final class QmpMigrationEvents implements MigrationListener {

    public static final QmpType.Enum STATUS = new QmpType.Enum("MigrationStatus",
            Arrays.stream(MigrationStatus.values()).map(MigrationStatus::qapiName).toList());

    private final QmpEventBus bus;
    private final MigrationController migration;

    QmpMigrationEvents(QmpEventBus bus, MigrationController migration) {
        this.bus = bus;
        this.migration = migration;
    }

    @Override
    public void statusChanged(MigrationStatus status) {
        if (migration.settings().has("events")) {
            bus.emit("MIGRATION", QmpMessages.object().put("status", status.qapiName()));
        }
    }

    @Override
    public void passStarted(int pass) {
        if (migration.settings().has("events")) {
            bus.emit("MIGRATION_PASS", QmpMessages.object().put("pass", pass));
        }
    }
}
