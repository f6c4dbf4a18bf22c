package dev.ferry.vmm.machine.migration;

/** Migration progress, for QMP's MIGRATION and MIGRATION_PASS events. */
public interface MigrationListener {

    void statusChanged(MigrationStatus status);

    default void passStarted(int pass) { }
}
