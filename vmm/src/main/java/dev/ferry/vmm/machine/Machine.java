package dev.ferry.vmm.machine;

import dev.ferry.migration.config.MachineIdentity;
import dev.ferry.migration.state.StateException;
import dev.ferry.migration.state.StateSection;
import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.boot.FirmwareAbi;
import dev.ferry.vmm.boot.FirmwareLayout;
import dev.ferry.vmm.boot.MultibootLoader;
import dev.ferry.vmm.device.PlatformEvents;
import dev.ferry.vmm.hypervisor.Hypervisor;
import dev.ferry.vmm.hypervisor.Vcpu;
import dev.ferry.vmm.hypervisor.VcpuState;
import dev.ferry.vmm.hypervisor.VirtualMachine;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.PageStateBitmap;
import dev.ferry.vmm.memory.RamRange;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Future;

/**
 * A running virtual machine: guest RAM, platform devices, the KVM VM and its vCPU threads, and
 * the run state. Everything that changes the machine as a whole (start, stop, reset, shutdown)
 * runs on one control thread, so commands never race with vCPU events.
 */
public final class Machine implements PlatformEvents, AutoCloseable {

    /** How long vCPUs get to stop before the machine is declared wedged. */
    static final long VCPU_STOP_TIMEOUT_MS = 5_000;

    private final MachineConfig config;
    private final Hypervisor hypervisor;
    private final GuestRam ram;
    private final PageStateBitmap pageStates;
    private final SerialBackend serialBackend;
    private volatile PlatformDevices devices;
    private final ExitHandler exitHandler;
    private final byte[] kernelImage;
    private final FirmwareLayout firmwareLayout;
    private final CpuidTemplate cpuid;
    private final ControlThread control;
    private final CompletableFuture<Integer> exitStatus = new CompletableFuture<>();
    private final List<MachineListener> listeners = new CopyOnWriteArrayList<>();

    private volatile RunState state = RunState.PRELAUNCH;
    private volatile boolean autostart;
    private volatile VirtualMachine vm;
    private volatile List<Vcpu> vcpus = List.of();
    private volatile VcpuControl vcpuControl;
    private final int[] vcpuTids;
    private final String firmwareSha256;
    private final VcpuThrottle throttle = new VcpuThrottle(() -> {
        VcpuControl c = vcpuControl;
        return c == null ? null : new VcpuThrottle.Target(c, vcpus);
    });

    private Machine(MachineConfig config, Hypervisor hypervisor, GuestRam ram, byte[] kernelImage,
                    FirmwareLayout firmwareLayout, SerialBackendFactory serialFactory) throws IOException {
        this.config = config;
        this.hypervisor = hypervisor;
        this.ram = ram;
        this.kernelImage = kernelImage;
        this.firmwareLayout = firmwareLayout;
        this.pageStates = new PageStateBitmap(ram.layout().ramEnd());
        this.control = new ControlThread("machine-control");
        SerialBackend serial = serialFactory.open(this::serialInput);
        this.serialBackend = serial;
        PlatformDevices devs = new PlatformDevices(FirmwareConfig.build(config, ram.layout()), serial.output(),
                high -> {
                    VirtualMachine current = vm;
                    if (current != null) {
                        current.setIrqLine(PlatformDevices.COM1_IRQ, high);
                    }
                }, this, pageStates, ram.layout(), FirmwareAbi.get());
        this.devices = devs;
        this.exitHandler = new ExitHandler(devs.ports, devs.mmio, devs.pageStateChannel);
        this.cpuid = new CpuidTemplate(hypervisor.supportedCpuid(), config.cpus());
        this.vcpuTids = new int[config.cpus()];
        this.autostart = !config.startPaused();
        this.firmwareSha256 = sha256(kernelImage);
    }

    private static String sha256(byte[] data) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(data));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java platform", e);
        }
    }

    /** Host input for the guest's UART; input that arrives while the machine is built is dropped. */
    private void serialInput(byte[] bytes) {
        PlatformDevices d = devices;
        if (d != null) {
            d.serial.receive(bytes);
        }
    }

    @FunctionalInterface
    interface SerialBackendFactory {
        SerialBackend open(java.util.function.Consumer<byte[]> input) throws IOException;
    }

    /** Builds the machine (RAM, devices) without starting it. */
    public static Machine create(MachineConfig config, Hypervisor hypervisor) throws IOException {
        byte[] image = KernelImages.read(config.kernel());
        FirmwareLayout layout = FirmwareLayout.read(image, FirmwareAbi.get());
        GuestRam ram = GuestRam.create(new dev.ferry.vmm.memory.MemoryLayout(config.memoryBytes()),
                config.name() == null ? "ferry-ram" : "ferry-ram-" + config.name());
        try {
            return new Machine(config, hypervisor, ram, image, layout,
                    input -> SerialBackend.open(config.serial(), input));
        } catch (IOException | RuntimeException e) {
            ram.close();
            throw e;
        }
    }

    public MachineConfig config() {
        return config;
    }

    public RunState state() {
        return state;
    }

    public GuestRam ram() {
        return ram;
    }

    public PageStateBitmap pageStates() {
        return pageStates;
    }

    /** The firmware's published layout, or null when the kernel is not a Ferry firmware. */
    public FirmwareLayout firmwareLayout() {
        return firmwareLayout;
    }

    public void addListener(MachineListener l) {
        listeners.add(l);
    }

    /** Completes with the VMM's exit status when the machine has ended. */
    public CompletableFuture<Integer> exitStatus() {
        return exitStatus;
    }

    /** Creates the VM and vCPUs, loads the kernel, and runs it unless {@code -S} was given. */
    public Future<?> start() {
        return control.submit(() -> {
            try {
                boot();
                if (config.startPaused()) {
                    setState(RunState.PRELAUNCH);
                } else {
                    startVcpus();
                }
            } catch (RuntimeException e) {
                fail("cannot start the machine: " + e.getMessage());
            }
        });
    }

    /**
     * Creates the VM and vCPUs but does not run them: the machine waits for an incoming
     * migration (-incoming), in run state inmigrate.
     */
    public Future<?> startIncoming() {
        return control.submit(() -> {
            try {
                boot();
                setState(RunState.INMIGRATE);
            } catch (RuntimeException e) {
                fail("cannot start the machine: " + e.getMessage());
            }
        });
    }

    /** Powers off from the host side (QMP quit, SIGTERM). */
    public Future<?> quit(String reason) {
        return control.submit(() -> shutdownNow(false, reason, 0));
    }

    /** Powers off from the host side, on the control thread (QMP quit). */
    public void quitOnControlThread(String reason) {
        shutdownNow(false, reason, 0);
    }

    /** Presses the power button (QMP system_powerdown); the guest decides. */
    public void powerdown() {
        devices.systemControl.requestPowerdown();
        listeners.forEach(MachineListener::powerdown);
    }

    /**
     * Runs {@code action} on the control thread, where every change of the machine happens, and
     * returns its result. QMP commands go through here.
     */
    public <T> CompletableFuture<T> onControlThread(java.util.concurrent.Callable<T> action) {
        Task<T> task = new Task<>(action);
        control.execute(task);
        return task.result;
    }

    /**
     * Runs {@code action} as a control-thread task, on the calling thread itself when the control
     * thread is idle (ControlThread#runInlineIfIdle), otherwise on it; returns its result once it
     * has run. For steps where the guest runs nowhere and a thread hand-over would add to the
     * downtime.
     */
    public <T> CompletableFuture<T> asControlThread(java.util.concurrent.Callable<T> action) {
        Task<T> task = new Task<>(action);
        if (!control.runInlineIfIdle(task)) {
            control.execute(task);
        }
        return task.result;
    }

    /**
     * A control-thread task and its result. A class, not a lambda per call site: it is loaded
     * with the first QMP command, so a migration's switchover finds it ready.
     */
    private static final class Task<T> implements Runnable {
        final CompletableFuture<T> result = new CompletableFuture<>();
        private final java.util.concurrent.Callable<T> action;

        Task(java.util.concurrent.Callable<T> action) {
            this.action = action;
        }

        @Override
        public void run() {
            try {
                result.complete(action.call());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        }
    }

    /**
     * Stops the vCPUs (QMP stop). Only from the control thread. A machine that is not running
     * stays as it is; QEMU sends STOP only when it actually stops.
     */
    public void pauseOnControlThread() {
        if (state == RunState.INMIGRATE) {
            autostart = false;      // QEMU's qmp_stop: the guest stays paused after the migration
            return;
        }
        if (state != RunState.RUNNING) {
            return;
        }
        stopVcpus();
        setState(RunState.PAUSED);
    }

    /**
     * Whether the guest runs by itself when an incoming migration completes: true unless -S,
     * and set by cont during inmigrate (QEMU's qmp_cont: "in inmigrate it only sets autostart").
     */
    public boolean autostart() {
        return autostart;
    }

    /** Lets the vCPUs run (QMP cont). Only from the control thread. */
    public void resumeOnControlThread() {
        if (state == RunState.INMIGRATE) {
            autostart = true;
            return;
        }
        if (state != RunState.PAUSED && state != RunState.PRELAUNCH && state != RunState.POSTMIGRATE) {
            return;
        }
        startVcpus();
    }

    /** Resets from the host side (QMP system_reset); with -no-reboot QEMU shuts down instead. */
    public void resetOnControlThread(String reason) {
        if (state == RunState.SHUTDOWN) {
            return;
        }
        if (config.noReboot()) {
            shutdownNow(false, reason, 0);
            return;
        }
        boolean wasRunning = state == RunState.RUNNING;
        rebootVm(false, reason, wasRunning);
    }

    /**
     * The KVM VM of the current boot, for migration (dirty logging). Only from the control
     * thread: a reset replaces it.
     */
    public VirtualMachine vmOnControlThread() {
        return vm;
    }

    /** The vCPUs' host thread ids, in vCPU order (0 while a thread has not started). */
    public int[] vcpuThreadIds() {
        return vcpuTids.clone();
    }

    // ---- migration ----

    /** What the target compares before accepting a stream (the CONFIG record). */
    public MachineIdentity identity() {
        return new MachineIdentity(config.memoryBytes(), config.cpus(), "none", firmwareSha256);
    }

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
        VcpuControl c = vcpuControl;
        // A real-time freezer puts the vCPU threads ahead too, until the thaw (VcpuControl).
        if (c != null && !c.freeze(kickVcpus, VCPU_STOP_TIMEOUT_MS, !realtime, realtime && REALTIME_VCPU_PARKING)) {
            throw new IllegalStateException("the vCPUs did not stop within " + VCPU_STOP_TIMEOUT_MS + " ms");
        }
        frozenAtEpochMicros = epochMicros();
    }

    /** Ends the dirty logging a completed outgoing migration left on; control thread only. */
    private Runnable dirtyLogLeftOn;

    /** When the migration freeze had stopped every vCPU (wall clock, for the STOP event). */
    private volatile long frozenAtEpochMicros;

    /**
     * Switchover on the source, second step: enters finish-migrate (QEMU emits STOP if the guest
     * was running). Returns the state to go back to if the migration fails.
     */
    public RunState enterFinishMigrateOnControlThread() {
        RunState before = state;
        if (before == RunState.RUNNING || before == RunState.PAUSED || before == RunState.PRELAUNCH) {
            // STOP carries the time the guest stopped, as QEMU's (emitted right after its vCPUs
            // paused), not the later moment this control-thread step runs.
            long stoppedAt = frozenAtEpochMicros;
            setState(RunState.FINISH_MIGRATE, stoppedAt != 0 ? stoppedAt : epochMicros());
        }
        return before;
    }

    /**
     * The migration failed after the freeze: the guest goes on as it was ({@code before}, or
     * null if finish-migrate was never entered). The vCPUs run again if the run state says so.
     */
    public void resumeAfterMigrationOnControlThread(RunState before) {
        if (state == RunState.FINISH_MIGRATE && before != null) {
            setState(before);
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
        VcpuControl c = vcpuControl;
        if (state == RunState.FINISH_MIGRATE) {
            if (c != null) {
                c.clearRunnable();
            }
            setState(RunState.POSTMIGRATE);
        }
        thawVcpus();
    }

    private void thawVcpus() {
        VcpuControl c = vcpuControl;
        if (c != null) {
            c.thaw();
        }
    }

    /**
     * One round of what a switchover does with this machine's state, with nothing changed, so
     * that code is compiled before a real switchover runs it while the guest is stopped
     * (MigrationRehearsal): the devices are saved; on a machine waiting in inmigrate, whose
     * vCPUs have never run, the devices are also loaded back and each vCPU's state is saved and
     * restored, the calls of a real load. Returns the device sections saved.
     */
    public List<StateSection> rehearseStateTransferOnControlThread() throws StateException {
        List<StateSection> sections = DeviceSections.save(devices);
        long[] shared = pageStates.snapshot();
        if (state == RunState.INMIGRATE) {
            DeviceSections.load(devices, sections);
            pageStates.restore(shared);
            for (Vcpu v : vcpus) {
                v.restoreState(v.saveState());
            }
        }
        return sections;
    }

    /** A vCPU in a throwaway VM like this machine's, for rehearsing its state transfer (ScratchVcpu). */
    public ScratchVcpu scratchVcpu() {
        return new ScratchVcpu(hypervisor.createVirtualMachine(), cpuid);
    }

    /**
     * The vCPU states of the current migration freeze, in vCPU order: each vCPU thread saved its
     * own as it parked (FrozenVcpuStates), in parallel with the last pages; a vCPU that was
     * parked already is saved here. Only between {@link #freezeVcpusForMigration(boolean)} and the end
     * of the migration.
     */
    public List<VcpuState> frozenVcpuStates() throws InterruptedException {
        VcpuControl c = vcpuControl;
        FrozenVcpuStates frozen = c == null ? null : c.frozenStates();
        if (frozen == null) {
            throw new IllegalStateException("the vCPUs are not frozen for a migration");
        }
        return frozen.collect(vcpus, VCPU_STOP_TIMEOUT_MS);
    }

    /** The device sections; each device saves under its own lock, so any thread may ask. */
    public List<StateSection> saveDevices() {
        return DeviceSections.save(devices);
    }

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
        if (state != RunState.INMIGRATE) {
            throw new StateException("the machine is not waiting for an incoming migration (state " + state + ")");
        }
        if (vcpuStates.size() != vcpus.size()) {
            throw new StateException("the stream has " + vcpuStates.size() + " vCPUs, this machine " + vcpus.size());
        }
        DeviceSections.load(devices, deviceSections);
        if (pageStateWords != null) {
            pageStates.restore(pageStateWords);
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
        if (state != RunState.INMIGRATE) {
            return;
        }
        if (autostart) {
            startVcpus();
        } else {
            setState(RunState.PAUSED);
        }
    }

    /** Auto-converge: holds the vCPUs back {@code percent}% of the time; 0 ends it. */
    public void throttle(int percent) {
        throttle.set(percent);
    }

    public int throttlePercent() {
        return throttle.percent();
    }

    // ---- PlatformEvents, called on vCPU threads ----

    @Override
    public void guestReset(String reason) {
        control.execute(() -> onGuestReset(reason));
    }

    @Override
    public void guestPoweroff(String reason) {
        control.execute(() -> shutdownNow(true, reason, 0));
    }

    @Override
    public void debugExit(int status) {
        control.execute(() -> shutdownNow(true, "guest-shutdown", status));
    }

    /** Events from vCPU threads that stopped on an exit only the machine can handle. */
    private void vcpuEvent(int vcpuId, ExitAction action) {
        control.execute(() -> {
            if (action instanceof ExitAction.GuestShutdown s) {
                Log.info(s.reason());
                onGuestReset("triple-fault");
            } else if (action instanceof ExitAction.SystemEvent e) {
                if (e.reset()) {
                    onGuestReset(e.reason());
                } else {
                    shutdownNow(true, e.reason(), 0);
                }
            } else if (action instanceof ExitAction.Fatal f) {
                fail(f.message());
            } else if (action instanceof ExitAction.Halted) {
                fail("vCPU " + vcpuId + " executed HLT with interrupts unavailable");
            }
        });
    }

    // ---- control thread ----

    private void boot() {
        VirtualMachine newVm = hypervisor.createVirtualMachine();
        List<Vcpu> newVcpus = new ArrayList<>();
        try {
            int slot = 0;
            for (RamRange r : ram.layout().ranges()) {
                newVm.mapMemory(slot++, r.guestPhysicalAddress(), r.size(), ram.hostAddress(r), false);
            }
            newVm.createInterruptController();
            for (int i = 0; i < config.cpus(); i++) {
                Vcpu v = newVm.createVcpu(i);
                newVcpus.add(v);
                v.setCpuid(cpuid.forVcpu(i));
            }
            MultibootLoader.LoadedKernel kernel = MultibootLoader.load(kernelImage, config.append(), ram);
            Vcpu bsp = newVcpus.get(0);
            bsp.setSpecialRegisters(BootCpuState.special(bsp.specialRegisters()));
            bsp.setRegisters(BootCpuState.standard(kernel));
        } catch (RuntimeException e) {
            newVcpus.forEach(Vcpu::close);
            newVm.close();
            throw e;
        }
        vm = newVm;
        vcpus = List.copyOf(newVcpus);
        vcpuControl = new VcpuControl(vcpus.size());
        for (Vcpu v : vcpus) {
            new VcpuThread(v, exitHandler, vcpuControl, this::vcpuEvent, tid -> vcpuTids[v.id()] = tid).start();
        }
    }

    /**
     * A migration is about to start dirty logging: a completed one's logging, still on, is now
     * the new migration's to end (it does, unless it completes too).
     */
    public void takeOverDirtyLogOnControlThread() {
        dirtyLogLeftOn = null;
    }

    /** Stops all vCPU threads and destroys the KVM VM; RAM and devices stay. */
    private void tearDownVm() {
        dirtyLogLeftOn = null;      // it was the old VM's
        VcpuControl c = vcpuControl;
        if (c == null) {
            return;
        }
        stopVcpus();
        c.terminate();
        vcpus.forEach(Vcpu::close);
        vm.close();
        vm = null;
        vcpus = List.of();
        vcpuControl = null;
    }

    private void onGuestReset(String reason) {
        if (state == RunState.SHUTDOWN) {
            return;
        }
        if (config.noReboot()) {
            // QEMU: with -no-reboot a guest reset is a shutdown, reported as such.
            shutdownNow(true, reason, 0);
            return;
        }
        Log.info("guest reset (" + reason + ")");
        rebootVm(true, reason, true);
    }

    /** Destroys and recreates the VM with zeroed RAM, as a PC's reset line does. */
    private void rebootVm(boolean guest, String reason, boolean run) {
        tearDownVm();
        ram.discard();
        pageStates.restore(new long[pageStates.snapshot().length]);
        listeners.forEach(l -> l.reset(guest, reason));
        try {
            boot();
            if (run) {
                startVcpus();
            }
        } catch (RuntimeException e) {
            fail("cannot restart the machine after reset: " + e.getMessage());
        }
    }

    /**
     * Asks every vCPU to leave KVM_RUN. Made once, with the machine: a lambda is linked (a class
     * generated) the first time its call site runs, which would otherwise be inside the
     * migration's downtime.
     */
    private final Runnable kickVcpus = () -> {
        for (Vcpu v : vcpus) {
            v.requestExit();
        }
    };

    /** {@code -Dferry.migration.realtime-vcpus=false}: a real-time freezer leaves the vCPU threads' policy alone. */
    static final boolean REALTIME_VCPU_PARKING = !"false".equals(System.getProperty("ferry.migration.realtime-vcpus"));

    private void stopVcpus() {
        try {
            if (!vcpuControl.stopAll(kickVcpus, VCPU_STOP_TIMEOUT_MS)) {
                Log.error("vCPUs did not stop within " + VCPU_STOP_TIMEOUT_MS + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void shutdownNow(boolean guest, String reason, int status) {
        if (state == RunState.SHUTDOWN) {
            return;
        }
        throttle.set(0);
        tearDownVm();
        setState(RunState.SHUTDOWN);
        listeners.forEach(l -> l.shutdown(guest, reason));
        serialBackend.close();
        exitStatus.complete(status);
    }

    private void fail(String message) {
        Log.error(message);
        tearDownVm();
        setState(RunState.INTERNAL_ERROR);
        serialBackend.close();
        exitStatus.complete(1);
    }

    /**
     * Enters RUNNING, then lets the vCPUs go: QEMU's order (vm_prepare_start sends RESUME before
     * resume_all_vcpus), and on a small host the RESUME event is out before the vCPU threads
     * compete with the monitor for the cores.
     */
    private void startVcpus() {
        Runnable stopDirtyLog = dirtyLogLeftOn;
        if (stopDirtyLog != null) {
            dirtyLogLeftOn = null;
            stopDirtyLog.run();
        }
        setState(RunState.RUNNING);
        vcpuControl.release();
    }

    private void setState(RunState next) {
        setState(next, epochMicros());
    }

    private void setState(RunState next, long atEpochMicros) {
        RunState prev = state;
        state = next;
        if (prev != next) {
            listeners.forEach(l -> l.stateChanged(prev, next, atEpochMicros));
        }
    }

    private static long epochMicros() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000 + now.getNano() / 1000;
    }

    @Override
    public void close() {
        try {
            control.submit(this::tearDownVm).get();
        } catch (Exception e) {
            Log.debug("closing machine: " + e);
        }
        control.shutdownNow();
        ram.close();
    }
}
