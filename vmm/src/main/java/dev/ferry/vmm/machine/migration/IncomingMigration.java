package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.config.MachineIdentity;
import dev.ferry.migration.ram.PageExtents;
import dev.ferry.migration.ram.PageSink;
import dev.ferry.migration.session.IncomingMachine;
import dev.ferry.migration.session.IncomingState;
import dev.ferry.migration.session.MigrationException;
import dev.ferry.migration.session.TargetSession;
import dev.ferry.migration.state.StateException;
import dev.ferry.migration.transport.FileMigrationChannel;
import dev.ferry.migration.transport.MigrationChannel;
import dev.ferry.migration.transport.MigrationUri;
import dev.ferry.migration.transport.SocketTransport;
import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.hypervisor.VcpuState;
import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.SwitchoverControl;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.transport.FdChannel;
import dev.ferry.vmm.tuning.DebugTimeline;
import dev.ferry.vmm.tuning.EdenHeadroom;
import dev.ferry.vmm.tuning.JitPriority;
import dev.ferry.vmm.tuning.RealtimePriority;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ExecutionException;

/**
 * One incoming migration: listens (or takes the fd or file), receives the stream into the
 * machine waiting in inmigrate, loads the state, acknowledges, then runs the guest (or leaves it
 * paused). On failure the guest never runs and the machine stays in inmigrate.
 */
final class IncomingMigration implements IncomingMachine {

    private final MigrationController controller;
    private final Machine machine;
    /** What this migration does with the machine. */
    private final SwitchoverControl switchover;
    private final MigrationUri uri;
    private final int fd;
    private volatile MigrationStatus status = MigrationStatus.NONE;
    private volatile SocketTransport.Listener listener;
    private volatile MigrationUri boundAddress;
    private volatile boolean accepted;
    private volatile TargetSession session;
    private volatile String errorDesc;
    private volatile long startNanos;
    private volatile long endNanos;
    private volatile boolean cancelled;

    IncomingMigration(MigrationController controller, Machine machine, MigrationUri uri, int fd) {
        this.controller = controller;
        this.machine = machine;
        this.switchover = machine.switchover();
        this.uri = uri;
        this.fd = fd;
    }

    MigrationStatus status() {
        return status;
    }

    /** Binds the listening socket now, so migrate-incoming reports an address in use at once. */
    void listen() {
        if (uri instanceof MigrationUri.Tcp || uri instanceof MigrationUri.Unix) {
            try {
                listener = SocketTransport.listen(uri);
                boundAddress = listener.boundUri();
            } catch (IOException e) {
                throw new MigrationRequestException("Failed to listen on " + uri + ": " + e.getMessage());
            }
        } else if (uri instanceof MigrationUri.File f && !java.nio.file.Files.isReadable(f.path())) {
            throw new MigrationRequestException("Cannot read migration file '" + f.path() + "'");
        }
    }

    void start() {
        setStatus(MigrationStatus.SETUP);
        Thread t = new Thread(this::run, "migration-in");
        t.setDaemon(true);
        t.start();
    }

    void cancel() {
        cancelled = true;
        SocketTransport.Listener l = listener;
        if (l != null) {
            l.close();
        }
        TargetSession s = session;
        if (s != null) {
            s.abort();
        }
    }

    private void setStatus(MigrationStatus s) {
        if (status != s) {
            status = s;
            controller.notifyStatus(s);
        }
    }

    private MigrationChannel accept() throws IOException {
        MigrationChannel ch;
        if (listener != null) {
            ch = listener.accept();
        } else if (accepted) {
            throw new IOException("multifd needs a tcp: or unix: address to accept its channels on");
        } else if (uri instanceof MigrationUri.Fd f) {
            ch = new FdChannel(fd, "fd:" + f.name());
        } else {
            ch = FileMigrationChannel.open(((MigrationUri.File) uri).path());
        }
        if (!accepted) {
            accepted = true;
            startNanos = System.nanoTime();
            setStatus(MigrationStatus.ACTIVE);
        }
        return ch;
    }

    /** {@code -Dferry.migration.prefault=false} leaves every page to the receiving threads. */
    private static final boolean PREFAULT = !"false".equals(System.getProperty("ferry.migration.prefault"));

    private void run() {
        JitPriority.yieldToMigration();
        controller.rehearsal().startNow();
        TargetSession s = new TargetSession(this::accept);
        session = s;
        if (cancelled) {
            s.abort();
        }
        try {
            s.run(this);
            priority.lower();
            timeline.mark("guest handed over");
            timeline.print();
            endNanos = System.nanoTime();
            Log.info("incoming migration completed: " + s.bytesReceived() + " bytes, " + s.pagesReceived() + " pages");
            Log.debug("incoming thread CPU time " + java.lang.management.ManagementFactory.getThreadMXBean()
                    .getCurrentThreadCpuTime() / 1_000_000 + " ms");
            setStatus(MigrationStatus.COMPLETED);
        } catch (MigrationException e) {
            fail(e.getMessage());
        } catch (RuntimeException e) {
            fail("incoming migration failed: " + e);
        } finally {
            stopAllocatingAhead();
            SocketTransport.Listener l = listener;
            if (l != null) {
                l.close();
            }
            priority.lower();
            JitPriority.afterMigration();
        }
    }

    private void fail(String reason) {
        endNanos = System.nanoTime();
        errorDesc = reason;
        Log.error("incoming migration failed: " + reason);
        setStatus(MigrationStatus.FAILED);
    }

    MigrationInfo info() {
        long start = startNanos;
        long end = endNanos == 0 ? System.nanoTime() : endNanos;
        return new MigrationInfo(status, true, 0, start == 0 ? 0 : (end - start) / 1_000_000, 0, null, 0, errorDesc, 0,
                boundAddress);
    }

    // ---- IncomingMachine (migration threads) ----

    @Override
    public MachineIdentity identity() {
        return switchover.identity();
    }

    private final LastStep lastStep = new LastStep();
    private volatile GuestRamSink sink;
    /** Allocating the first pass's memory ahead of the stream, until the switchover (migration thread). */
    private RamPrefault prefault;
    /** Debug stamps from END to the hand-over, written after it. */
    private volatile DebugTimeline timeline = new DebugTimeline("incoming: ");
    /** The vCPUs' states as their VCPU records arrived (migration thread only). */
    private VcpuState[] vcpus;

    @Override
    public void clearRam() {
        // Punching the whole file frees what an earlier (failed) attempt or the boot loader
        // wrote; untouched pages then cost nothing, on the host or in the stream. (RAM adopted
        // from another process, GuestRam.adopt, must never get here: it holds the guest.)
        machine.ram().discard();
        sink = new GuestRamSink(machine.ram());
        vcpus = new VcpuState[switchover.identity().vcpus()];
        timeline = new DebugTimeline("incoming: ");   // restarted at the SYNC, if the stream has one
        EdenHeadroom.makeRoomForMigration();
    }

    @Override
    public PageSink pages() {
        return sink;
    }

    @Override
    public long ramPages() {
        return machine.ram().layout().ramSize() / MemoryLayout.PAGE_SIZE;
    }

    @Override
    public void allocateAhead(PageExtents extents) {
        stopAllocatingAhead();
        if (PREFAULT) {
            prefault = RamPrefault.start(machine.ram(), extents, sink);
        }
    }

    private void stopAllocatingAhead() {
        RamPrefault p = prefault;
        if (p != null) {
            prefault = null;
            p.close();
            Log.debug("incoming: allocated " + p.allocatedPages() + " pages ahead of the stream");
        }
    }

    @Override
    public int deviceSectionVersion(String name) throws StateException {
        return SwitchoverControl.deviceSectionVersion(name);
    }

    @Override
    public int vcpuStateVersion() {
        return VcpuStateCodec.VERSION;
    }

    @Override
    public void vcpuState(int index, int version, ByteBuffer state) throws StateException {
        vcpus[index] = VcpuStateCodec.decode(version, state);
        timeline.mark("vCPU state decoded");     // a constant: no string built in the downtime
    }

    @Override
    public void switchoverImminent() {
        // Before the APPLIED answer: the source waits for it with its guest running.
        stopAllocatingAhead();
        EdenHeadroom.makeRoom(EdenHeadroom.SWITCHOVER_BYTES);
        priority.raise();
        // The switchover's stamps start here: what this thread does until END is on the downtime.
        timeline = new DebugTimeline("incoming: ");
        timeline.mark("SYNC received");
    }

    /** The migration thread's, from the source's SYNC until the guest runs here. */
    private final RealtimePriority priority = new RealtimePriority();

    @Override
    public long pageStatePages() {
        return machine.pageStates().pageCount();
    }

    @Override
    public void load(IncomingState state, Acknowledgement ack) throws StateException, IOException {
        timeline.mark("END received");
        controller.rehearsal().await(2_000);
        lastStep.prepare(List.of(this.vcpus), state, ack);
        try {
            // Load, acknowledge and run in one control-thread step, run by this thread itself
            // when the control thread is idle: every hand-over between threads costs wake-up
            // latency while the guest runs nowhere.
            machine.asControlThread(lastStep).get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StateException se) {
                throw se;
            }
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new StateException("cannot load the machine state: " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StateException("interrupted while loading the machine state");
        }
    }

    /**
     * The last step of an incoming migration, as a control-thread task: load the state,
     * acknowledge, run the guest. Created with the migration (not a lambda at END): loading and
     * linking a class costs a few hundred microseconds, which must not fall in the downtime.
     */
    private final class LastStep implements java.util.concurrent.Callable<Void> {
        private List<VcpuState> vcpus;
        private IncomingState state;
        private Acknowledgement ack;

        void prepare(List<VcpuState> vcpus, IncomingState state, Acknowledgement ack) {
            this.vcpus = vcpus;
            this.state = state;
            this.ack = ack;
        }

        @Override
        public Void call() throws StateException, IOException {
            timeline.mark("loading as the control thread");
            switchover.loadIncomingOnControlThread(vcpus, state.devices(), state.pageStates());
            timeline.mark("loaded");
            ack.send();
            timeline.mark("acknowledged");
            switchover.completeIncomingOnControlThread();
            timeline.mark("guest started");
            priority.lower();       // the guest runs: nothing urgent left (no-op on the control thread)
            return null;
        }
    }
}
