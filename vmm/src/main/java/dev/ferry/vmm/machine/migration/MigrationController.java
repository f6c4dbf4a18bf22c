package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.transport.MigrationUri;
import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.MachineListener;
import dev.ferry.vmm.machine.RunState;
import dev.ferry.vmm.tuning.MigrationRehearsal;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The migration side of one VMM, as QMP sees it: capabilities and parameters, at most one
 * migration at a time (outgoing or incoming), its status and figures. Commands call it on the
 * machine's control thread; the migration itself runs on its own threads.
 */
public final class MigrationController {

    private final Machine machine;
    private final List<MigrationListener> listeners = new CopyOnWriteArrayList<>();
    private volatile MigrationSettings settings = MigrationSettings.defaults();
    private volatile OutgoingMigration outgoing;
    private volatile IncomingMigration incoming;
    /** -incoming defer: migrate-incoming says where to listen. */
    private final boolean incomingDeferred;
    private final MigrationRehearsal rehearsal;

    public MigrationController(Machine machine, boolean incomingDeferred) {
        this.machine = machine;
        this.incomingDeferred = incomingDeferred;
        this.rehearsal = new MigrationRehearsal(new ScratchMigration(machine));
        machine.addListener(new MachineListener() {
            @Override
            public void reset(boolean guest, String reason) {
                OutgoingMigration o = outgoing;
                if (o != null) {
                    o.abort("the guest was reset during the migration");
                }
            }

            @Override
            public void shutdown(boolean guest, String reason) {
                OutgoingMigration o = outgoing;
                if (o != null) {
                    o.abort("the guest shut down during the migration");
                }
                IncomingMigration i = incoming;
                if (i != null) {
                    i.cancel();
                }
            }
        });
    }

    /**
     * Rehearses a migration in the background after {@code delayMillis} (see
     * {@link MigrationRehearsal}): a machine that boots a guest waits until its boot is past; a
     * target waiting for a migration starts at once.
     */
    public void rehearseAfter(long delayMillis) {
        rehearsal.startAfter(delayMillis);
    }

    MigrationRehearsal rehearsal() {
        return rehearsal;
    }

    public void addListener(MigrationListener l) {
        listeners.add(l);
    }

    void notifyStatus(MigrationStatus s) {
        listeners.forEach(l -> l.statusChanged(s));
    }

    void notifyPass(int pass) {
        listeners.forEach(l -> l.passStarted(pass));
    }

    public MigrationSettings settings() {
        return settings;
    }

    /**
     * Whether a migration is under way (capabilities and some parameters cannot change then). A
     * target that only listens is not: libvirt and QEMU users set the target's capabilities
     * after -incoming URI, before the source connects.
     */
    public boolean active() {
        OutgoingMigration o = outgoing;
        IncomingMigration i = incoming;
        return (o != null && o.status().inProgress())
                || (i != null && i.status().inProgress() && i.status() != MigrationStatus.SETUP);
    }

    public void setCapabilities(java.util.Set<String> caps) {
        if (active()) {
            throw new MigrationRequestException("There's a migration process in progress");
        }
        settings = settings.withCapabilities(caps);
    }

    /**
     * New parameters: for the next migration, and, as in QEMU, max-bandwidth and downtime-limit
     * also for the one running now (the others, like multifd-channels, only matter at its start).
     */
    public void setSettings(MigrationSettings s) {
        settings = s;
        OutgoingMigration o = outgoing;
        if (o != null && o.status().inProgress()) {
            o.setLimits(s.maxBandwidth(), s.downtimeLimitMillis());
        }
    }

    /** QMP migrate. {@code fd} is the descriptor for fd:NAME (taken from the monitor), else -1. */
    public void migrate(MigrationUri uri, int fd) {
        checkCanMigrate();
        MigrationSettings s = settings;
        if (s.has("multifd") && !(uri instanceof MigrationUri.Tcp || uri instanceof MigrationUri.Unix)) {
            throw new MigrationRequestException("multifd is not supported with " + uri.getClass().getSimpleName()
                    .toLowerCase(java.util.Locale.ROOT) + ": migration (use tcp: or unix:)");
        }
        OutgoingMigration o = new OutgoingMigration(this, machine, uri, fd, s);
        incoming = null;
        outgoing = o;
        o.start();
    }

    /**
     * What QEMU's migrate checks before it looks at the address (migrate_prepare): nothing in
     * progress, not waiting for an incoming stream, a guest to migrate.
     */
    public void checkCanMigrate() {
        if (active()) {
            throw new MigrationRequestException("There's a migration process in progress");
        }
        RunState st = machine.state();
        if (st == RunState.INMIGRATE) {
            throw new MigrationRequestException("Guest is waiting for an incoming migration");
        }
        if (st == RunState.SHUTDOWN || st == RunState.INTERNAL_ERROR) {
            throw new MigrationRequestException("The guest is not running (state " + st + "); nothing to migrate");
        }
        if (settings.has("x-ignore-shared")) {
            throw new MigrationRequestException("x-ignore-shared (local migration) is not available in this Ferry");
        }
    }

    /**
     * QMP migrate with an address that cannot be used (an unknown protocol, a descriptor name
     * the monitor does not hold): as in QEMU, a migration that failed at once — setup, then
     * failed (MIGRATION events), and query-migrate shows the reason.
     */
    public void failedAtStart(String reason) {
        checkCanMigrate();
        OutgoingMigration o = new OutgoingMigration(this, machine, null, -1, settings);
        incoming = null;
        outgoing = o;
        o.failAtStart(reason);
    }

    /** QMP migrate_cancel: only an outgoing migration is cancelled (as in QEMU). */
    public void cancel() {
        OutgoingMigration o = outgoing;
        if (o != null) {
            o.cancel();
        }
    }

    /** QMP migrate-continue. */
    public void continueFrom(MigrationStatus expected) {
        OutgoingMigration o = outgoing;
        MigrationStatus now = o == null ? MigrationStatus.NONE : o.status();
        if (now != expected) {
            throw new MigrationRequestException("Migration not in expected state: " + now);
        }
        o.continueSwitchover();
    }

    /**
     * Starts listening for an incoming migration: from -incoming URI at start-up, or from QMP
     * migrate-incoming with -incoming defer. After a failed incoming migration the target stays
     * in inmigrate and may be given another URI.
     */
    public void listen(MigrationUri uri, int fd, boolean fromCommandLine) {
        if (!fromCommandLine && !incomingDeferred) {
            throw new MigrationRequestException("'-incoming' was not specified on the command line");
        }
        if (machine.state() != RunState.INMIGRATE) {
            throw new MigrationRequestException("The machine is not waiting for an incoming migration (state "
                    + machine.state() + ")");
        }
        IncomingMigration i = incoming;
        if (i != null && (i.status().inProgress() || i.status() == MigrationStatus.COMPLETED)) {
            throw new MigrationRequestException("The incoming migration has already been started");
        }
        IncomingMigration next = new IncomingMigration(this, machine, uri, fd);
        next.listen();
        outgoing = null;
        incoming = next;
        next.start();
    }

    /** query-migrate: null before any migration (QEMU answers an empty object). */
    public MigrationInfo info() {
        OutgoingMigration o = outgoing;
        if (o != null) {
            return o.info();
        }
        IncomingMigration i = incoming;
        return i == null ? null : i.info();
    }

    /** Stops whatever runs (VMM shutdown). */
    public void close() {
        OutgoingMigration o = outgoing;
        if (o != null) {
            o.cancel();
        }
        IncomingMigration i = incoming;
        if (i != null) {
            i.cancel();
        }
    }
}
