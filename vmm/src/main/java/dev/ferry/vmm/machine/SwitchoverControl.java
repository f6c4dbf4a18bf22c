package dev.ferry.vmm.machine;

import dev.ferry.migration.config.MachineIdentity;
import dev.ferry.migration.state.StateException;
import dev.ferry.migration.state.StateSection;
import dev.ferry.vmm.hypervisor.Hypervisor;
import dev.ferry.vmm.hypervisor.Vcpu;
import dev.ferry.vmm.hypervisor.VcpuState;
import dev.ferry.vmm.hypervisor.VirtualMachine;
import dev.ferry.vmm.memory.PageStateBitmap;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * What a migration does with a machine, beside its lifecycle (Machine): on the source the
 * switchover's freeze, finish-migrate and thaw, the vCPU and device state saved while the guest
 * is stopped, the dirty logging a completed migration leaves on, auto-converge's throttle; on
 * the target the load of a migrated guest's state and its start; on both the rehearsal's state
 * transfer and scratch vCPU. Obtained from {@link Machine#switchover()}.
 */
public final class SwitchoverControl {

    /** {@code -Dferry.migration.realtime-vcpus=false}: a real-time freezer leaves the vCPU threads' policy alone. */
    static final boolean REALTIME_VCPU_PARKING = !"false".equals(System.getProperty("ferry.migration.realtime-vcpus"));

    private final Machine machine;
    private final Hypervisor hypervisor;
    private final CpuidTemplate cpuid;
    private final String firmwareSha256;
    private final VcpuThrottle throttle;

    /** Ends the dirty logging a completed outgoing migration left on; control thread only. */
    private Runnable dirtyLogLeftOn;

    /** When the migration freeze had stopped every vCPU (wall clock, for the STOP event). */
    private volatile long frozenAtEpochMicros;

    SwitchoverControl(Machine machine, Hypervisor hypervisor, CpuidTemplate cpuid, byte[] firmware) {
        this.machine = machine;
        this.hypervisor = hypervisor;
        this.cpuid = cpuid;
        this.firmwareSha256 = sha256(firmware);
        this.throttle = new VcpuThrottle(() -> {
            BootedVm b = machine.booted();
            return b == null ? null : new VcpuThrottle.Target(b.control, b.vcpus);
        });
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java platform", e);
        }
    }

    /** What the target compares before accepting a stream (the CONFIG record). */
    public MachineIdentity identity() {
        MachineConfig config = machine.config();
        return new MachineIdentity(config.memoryBytes(), config.cpus(), "none", firmwareSha256);
    }

    /**
     * The KVM VM of the current boot, for migration (dirty logging). Only from the control
     * thread: a reset replaces it.
     */
    public VirtualMachine vmOnControlThread() {
        BootedVm b = machine.booted();
        return b == null ? null : b.vm;
    }

    /**
     * A migration is about to start dirty logging: a completed one's logging, still on, is now
     * the new migration's to end (it does, unless it completes too).
     */
    public void takeOverDirtyLogOnControlThread() {
        dirtyLogLeftOn = null;
    }

    /** The guest is about to run here again: ends the dirty logging a completed migration left on. */
    void endDirtyLogLeftOn() {
        Runnable stopDirtyLog = dirtyLogLeftOn;
        if (stopDirtyLog != null) {
            dirtyLogLeftOn = null;
            stopDirtyLog.run();
        }
    }

    /** The VM is going: the dirty logging left on was its own. */
    void forgetDirtyLogLeftOn() {
        dirtyLogLeftOn = null;
    }

    // ---- switchover on the source ----

    /**
     * Switchover on the source, first step, on the migration thread itself: freezes the vCPUs
     * (kick, then wait until every one is parked) without a hand-over to the control thread. On
     * a small host whose cores are busy (a spinning guest vCPU, the migration), each hand-over
     * waits 1-4 ms for a core while the guest runs nowhere. Frozen vCPUs stay parked whatever
     * stop/cont do meanwhile, until the migration ends either way (QEMU holds its big lock for
     * the same reason). The run state follows on the control thread:
     * {@link #enterFinishMigrateOnControlThread()}. A caller in a real-time scheduling policy
     * passes {@code realtime}: it then waits for the vCPUs instead of polling (VcpuControl).
     */
    public void freezeVcpusForMigration(boolean realtime) throws InterruptedException {
        BootedVm b = machine.booted();
        VcpuControl c = b == null ? null : b.control;
        // A real-time freezer puts the vCPU threads ahead too, until the thaw (VcpuControl).
        if (c != null && !c.freeze(machine.kickVcpus, Machine.VCPU_STOP_TIMEOUT_MS, !realtime,
                realtime && REALTIME_VCPU_PARKING)) {
            throw new IllegalStateException("the vCPUs did not stop within " + Machine.VCPU_STOP_TIMEOUT_MS + " ms");
        }
        frozenAtEpochMicros = Machine.epochMicros();
    }

    /**
     * Switchover on the source, second step: enters finish-migrate (QEMU emits STOP if the guest
     * was running). Returns the state to go back to if the migration fails.
     */
    public RunState enterFinishMigrateOnControlThread() {
        RunState before = machine.state();
        if (before == RunState.RUNNING || before == RunState.PAUSED || before == RunState.PRELAUNCH) {
            // STOP carries the time the guest stopped, as QEMU's (emitted right after its vCPUs
            // paused), not the later moment this control-thread step runs.
            long stoppedAt = frozenAtEpochMicros;
            machine.setState(RunState.FINISH_MIGRATE, stoppedAt != 0 ? stoppedAt : Machine.epochMicros());
        }
        return before;
    }

    /**
     * The migration failed after the freeze: the guest goes on as it was ({@code before}, or
     * null if finish-migrate was never entered). The vCPUs run again if the run state says so.
     */
    public void resumeAfterMigrationOnControlThread(RunState before) {
        if (machine.state() == RunState.FINISH_MIGRATE && before != null) {
            machine.setState(before);
        }
        thawVcpus();
    }

    /**
     * The target has the guest: the source stays stopped (QEMU's postmigrate; cont would resume
     * it). {@code stopDirtyLog} ends the migration's dirty logging, which is left on until the
     * guest runs again here: ending it costs milliseconds of CPU, which on a host shared with
     * the target would compete with the target starting the guest (SourceSession#run).
     */
    public void finishOutgoingMigrationOnControlThread(Runnable stopDirtyLog) {
        dirtyLogLeftOn = stopDirtyLog;
        VcpuControl c = vcpuControl();
        if (machine.state() == RunState.FINISH_MIGRATE) {
            if (c != null) {
                c.clearRunnable();
            }
            machine.setState(RunState.POSTMIGRATE);
        }
        thawVcpus();
    }

    /** The current boot's vCPU control; null while there is no VM. */
    private VcpuControl vcpuControl() {
        BootedVm b = machine.booted();
        return b == null ? null : b.control;
    }

    /** The current boot's vCPUs; none while there is no VM. */
    private List<Vcpu> vcpus() {
        BootedVm b = machine.booted();
        return b == null ? List.of() : b.vcpus;
    }

    private void thawVcpus() {
        VcpuControl c = vcpuControl();
        if (c != null) {
            c.thaw();
        }
    }

    /**
     * The vCPU states of the current migration freeze, in vCPU order: each vCPU thread saved its
     * own as it parked (FrozenVcpuStates), in parallel with the last pages; a vCPU that was
     * parked already is saved here. Only between {@link #freezeVcpusForMigration(boolean)} and the end
     * of the migration.
     */
    public List<VcpuState> frozenVcpuStates() throws InterruptedException {
        BootedVm b = machine.booted();
        FrozenVcpuStates frozen = b == null ? null : b.control.frozenStates();
        if (frozen == null) {
            throw new IllegalStateException("the vCPUs are not frozen for a migration");
        }
        return frozen.collect(b.vcpus, Machine.VCPU_STOP_TIMEOUT_MS);
    }

    /** The device sections; each device saves under its own lock, so any thread may ask. */
    public List<StateSection> saveDevices() {
        return DeviceSections.save(machine.devices());
    }

    /** Auto-converge: holds the vCPUs back {@code percent}% of the time; 0 ends it. */
    public void throttle(int percent) {
        throttle.set(percent);
    }

    public int throttlePercent() {
        return throttle.percent();
    }

    // ---- incoming ----

    /** Decodes device sections as a load would, without applying them (codec warm-up). */
    public static void decodeDeviceSections(List<StateSection> sections) throws StateException {
        DeviceSections.decode(sections);
    }

    /** The newest version of a device section this Ferry reads (incoming streams). */
    public static int deviceSectionVersion(String name) throws StateException {
        return DeviceSections.version(name);
    }

    /**
     * Loads a migrated guest's state into this machine, which waits in inmigrate with its vCPUs
     * parked. Devices are checked before anything changes; a vCPU the hypervisor refuses fails
     * the load (the guest then never runs).
     */
    public void loadIncomingOnControlThread(List<VcpuState> vcpuStates, List<StateSection> deviceSections,
                                            long[] pageStateWords) throws StateException {
        RunState state = machine.state();
        if (state != RunState.INMIGRATE) {
            throw new StateException("the machine is not waiting for an incoming migration (state " + state + ")");
        }
        List<Vcpu> vcpus = vcpus();
        if (vcpuStates.size() != vcpus.size()) {
            throw new StateException("the stream has " + vcpuStates.size() + " vCPUs, this machine " + vcpus.size());
        }
        DeviceSections.load(machine.devices(), deviceSections);
        if (pageStateWords != null) {
            machine.pageStates().restore(pageStateWords);
        }
        for (int i = 0; i < vcpuStates.size(); i++) {
            try {
                vcpus.get(i).restoreState(vcpuStates.get(i));
            } catch (RuntimeException e) {
                throw new StateException("vCPU " + i + ": " + e.getMessage());
            }
        }
    }

    /** The incoming migration is complete: run, or stay paused until cont (-S, or stop during inmigrate). */
    public void completeIncomingOnControlThread() {
        if (machine.state() != RunState.INMIGRATE) {
            return;
        }
        if (machine.autostart()) {
            machine.startVcpus();
        } else {
            machine.setState(RunState.PAUSED);
        }
    }

    // ---- rehearsal ----

    /**
     * One round of what a switchover does with this machine's state, with nothing changed, so
     * that code is compiled before a real switchover runs it while the guest is stopped
     * (MigrationRehearsal): the devices are saved; on a machine waiting in inmigrate, whose
     * vCPUs have never run, the devices are also loaded back and each vCPU's state is saved and
     * restored, the calls of a real load. Returns the device sections saved.
     */
    public List<StateSection> rehearseStateTransferOnControlThread() throws StateException {
        PlatformDevices devices = machine.devices();
        PageStateBitmap pageStates = machine.pageStates();
        List<StateSection> sections = DeviceSections.save(devices);
        long[] shared = pageStates.snapshot();
        if (machine.state() == RunState.INMIGRATE) {
            DeviceSections.load(devices, sections);
            pageStates.restore(shared);
            for (Vcpu v : vcpus()) {
                v.restoreState(v.saveState());
            }
        }
        return sections;
    }

    /** A vCPU in a throwaway VM like this machine's, for rehearsing its state transfer (ScratchVcpu). */
    public ScratchVcpu scratchVcpu() {
        return new ScratchVcpu(hypervisor.createVirtualMachine(), cpuid);
    }
}
