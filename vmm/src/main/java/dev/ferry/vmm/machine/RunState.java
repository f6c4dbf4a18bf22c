package dev.ferry.vmm.machine;

/** The VM's run state, with QEMU's names (qapi/run-state.json, RunState). */
public enum RunState {
    DEBUG("debug"),
    INMIGRATE("inmigrate"),
    INTERNAL_ERROR("internal-error"),
    IO_ERROR("io-error"),
    PAUSED("paused"),
    POSTMIGRATE("postmigrate"),
    PRELAUNCH("prelaunch"),
    FINISH_MIGRATE("finish-migrate"),
    RESTORE_VM("restore-vm"),
    RUNNING("running"),
    SAVE_VM("save-vm"),
    SHUTDOWN("shutdown"),
    SUSPENDED("suspended"),
    WATCHDOG("watchdog"),
    GUEST_PANICKED("guest-panicked"),
    COLO("colo");

    private final String qapiName;

    RunState(String qapiName) {
        this.qapiName = qapiName;
    }

    /** The name QMP uses, e.g. {@code "internal-error"}. */
    public String qapiName() {
        return qapiName;
    }

    @Override
    public String toString() {
        return qapiName;
    }
}
