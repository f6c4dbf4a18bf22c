package dev.ferry.vmm.machine.migration;

/** A migration's status with QEMU's names (qapi/migration.json, MigrationStatus). */
public enum MigrationStatus {
    NONE("none"),
    SETUP("setup"),
    CANCELLING("cancelling"),
    CANCELLED("cancelled"),
    ACTIVE("active"),
    PRE_SWITCHOVER("pre-switchover"),
    DEVICE("device"),
    COMPLETED("completed"),
    FAILED("failed");

    private final String qapiName;

    MigrationStatus(String qapiName) {
        this.qapiName = qapiName;
    }

    public String qapiName() {
        return qapiName;
    }

    /** The status QMP names {@code name} (migrate-continue's argument), or null. */
    public static MigrationStatus ofQapiName(String name) {
        for (MigrationStatus s : values()) {
            if (s.qapiName.equals(name)) {
                return s;
            }
        }
        return null;
    }

    /** Whether a migration in this status is still going (a new one must wait). */
    public boolean inProgress() {
        return this == SETUP || this == ACTIVE || this == PRE_SWITCHOVER || this == DEVICE || this == CANCELLING;
    }

    @Override
    public String toString() {
        return qapiName;
    }
}
