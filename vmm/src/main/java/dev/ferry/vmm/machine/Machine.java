package dev.ferry.vmm.machine;

import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.boot.FirmwareAbi;
import dev.ferry.vmm.boot.FirmwareLayout;
import dev.ferry.vmm.hypervisor.Hypervisor;
import dev.ferry.vmm.hypervisor.Vcpu;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.memory.PageStateBitmap;

import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * A running virtual machine: guest RAM, platform devices, the KVM VM and its vCPU threads, and
 * the run state. Everything that changes the machine as a whole (start, stop, reset, shutdown)
 * runs on one control thread, so commands never race with vCPU events.
 */
public final class Machine implements AutoCloseable {

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
    /** What the guest asks of the machine (devices, vCPU exits), posted to the control thread. */
    private final GuestEvents guestEvents;
    private final CompletableFuture<Integer> exitStatus = new CompletableFuture<>();
    private final List<MachineListener> listeners = new CopyOnWriteArrayList<>();

    private volatile RunState state = RunState.PRELAUNCH;
    private volatile boolean autostart;
    /** The current boot's VM and vCPUs; null while there is none (a reset replaces it). */
    private volatile BootedVm booted;
    private final int[] vcpuTids;
    /** What a migration does with this machine. */
    private final SwitchoverControl switchover;

    private Machine(MachineConfig config, Hypervisor hypervisor, GuestRam ram, byte[] kernelImage,
                    FirmwareLayout firmwareLayout, SerialBackendFactory serialFactory) throws IOException {
        this.config = config;
        this.hypervisor = hypervisor;
        this.ram = ram;
        this.kernelImage = kernelImage;
        this.firmwareLayout = firmwareLayout;
        this.pageStates = new PageStateBitmap(ram.layout().ramEnd());
        this.control = new ControlThread("machine-control");
        this.guestEvents = new GuestEvents(this, control);
        SerialBackend serial = serialFactory.open(this::serialInput);
        this.serialBackend = serial;
        PlatformDevices devs = new PlatformDevices(FirmwareConfig.build(config, ram.layout()), serial.output(),
                high -> {
                    BootedVm current = booted;
                    if (current != null) {
                        current.vm.setIrqLine(PlatformDevices.COM1_IRQ, high);
                    }
                }, guestEvents, pageStates, ram.layout(), FirmwareAbi.get());
        this.devices = devs;
        this.exitHandler = new ExitHandler(devs.ports, devs.mmio, devs.pageStateChannel);
        this.cpuid = new CpuidTemplate(hypervisor.supportedCpuid(), config.cpus());
        this.vcpuTids = new int[config.cpus()];
        this.autostart = !config.startPaused();
        this.switchover = new SwitchoverControl(this, hypervisor, cpuid, kernelImage);
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
        SerialBackend open(Consumer<byte[]> input) throws IOException;
    }

    /** Builds the machine (RAM, devices) without starting it. */
    public static Machine create(MachineConfig config, Hypervisor hypervisor) throws IOException {
        byte[] image = KernelImages.read(config.kernel());
        FirmwareLayout layout = FirmwareLayout.read(image, FirmwareAbi.get());
        GuestRam ram = GuestRam.create(new MemoryLayout(config.memoryBytes()),
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
    public <T> CompletableFuture<T> onControlThread(Callable<T> action) {
        return control.call(action);
    }

    /**
     * Runs {@code action} as a control-thread task, on the calling thread itself when the control
     * thread is idle (ControlThread#runInlineIfIdle), otherwise on it; returns its result once it
     * has run. For steps where the guest runs nowhere and a thread hand-over would add to the
     * downtime.
     */
    public <T> CompletableFuture<T> asControlThread(Callable<T> action) {
        return control.callInlineIfIdle(action);
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

    /** The vCPUs' host thread ids, in vCPU order (0 while a thread has not started). */
    public int[] vcpuThreadIds() {
        return vcpuTids.clone();
    }

    /** What a migration does with this machine: freeze, state transfer, incoming load, throttle. */
    public SwitchoverControl switchover() {
        return switchover;
    }

    /** The current boot, null while there is none (SwitchoverControl: its vCPUs and VM). */
    BootedVm booted() {
        return booted;
    }

    PlatformDevices devices() {
        return devices;
    }

    // ---- control thread ----

    private void boot() {
        BootedVm b = BootedVm.create(hypervisor, ram, config, cpuid, kernelImage);
        booted = b;
        for (Vcpu v : b.vcpus) {
            new VcpuThread(v, exitHandler, b.control, guestEvents::vcpuEvent, tid -> vcpuTids[v.id()] = tid).start();
        }
    }

    /** Stops all vCPU threads and destroys the KVM VM; RAM and devices stay. */
    private void tearDownVm() {
        switchover.forgetDirtyLogLeftOn();      // it was the old VM's
        BootedVm b = booted;
        if (b == null) {
            return;
        }
        stopVcpus();
        b.close();
        booted = null;
    }

    /** The guest reset itself (GuestEvents); with -no-reboot QEMU shuts down instead. */
    void onGuestReset(String reason) {
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
    final Runnable kickVcpus = () -> {
        BootedVm b = booted;
        if (b != null) {
            for (Vcpu v : b.vcpus) {
                v.requestExit();
            }
        }
    };

    private void stopVcpus() {
        try {
            if (!booted.control.stopAll(kickVcpus, VCPU_STOP_TIMEOUT_MS)) {
                Log.error("vCPUs did not stop within " + VCPU_STOP_TIMEOUT_MS + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    void shutdownNow(boolean guest, String reason, int status) {
        if (state == RunState.SHUTDOWN) {
            return;
        }
        switchover.throttle(0);
        tearDownVm();
        setState(RunState.SHUTDOWN);
        listeners.forEach(l -> l.shutdown(guest, reason));
        serialBackend.close();
        exitStatus.complete(status);
    }

    void fail(String message) {
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
    void startVcpus() {
        switchover.endDirtyLogLeftOn();
        setState(RunState.RUNNING);
        booted.control.release();
    }

    void setState(RunState next) {
        setState(next, epochMicros());
    }

    void setState(RunState next, long atEpochMicros) {
        RunState prev = state;
        state = next;
        if (prev != next) {
            listeners.forEach(l -> l.stateChanged(prev, next, atEpochMicros));
        }
    }

    static long epochMicros() {
        Instant now = Instant.now();
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
