package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.config.MachineIdentity;
import dev.ferry.migration.ram.DirtyLog;
import dev.ferry.migration.ram.OutgoingMachine;
import dev.ferry.migration.ram.PageSink;
import dev.ferry.migration.ram.PrecopyEngine;
import dev.ferry.migration.ram.PrecopyParameters;
import dev.ferry.migration.ram.RecordSink;
import dev.ferry.migration.session.IncomingMachine;
import dev.ferry.migration.session.IncomingState;
import dev.ferry.migration.session.MigrationException;
import dev.ferry.migration.session.Payloads;
import dev.ferry.migration.session.SourceSession;
import dev.ferry.migration.session.TargetSession;
import dev.ferry.migration.state.StateException;
import dev.ferry.migration.state.StateSection;
import dev.ferry.migration.state.StateSectionCodec;
import dev.ferry.migration.stream.StreamException;
import dev.ferry.migration.transport.MigrationUri;
import dev.ferry.migration.transport.SocketTransport;
import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.VcpuState;
import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.RunState;
import dev.ferry.vmm.machine.ScratchVcpu;
import dev.ferry.vmm.machine.SwitchoverControl;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.memory.PageStateBitmap;
import dev.ferry.vmm.memory.RamRange;
import dev.ferry.vmm.os.Threads;
import dev.ferry.vmm.tuning.MigrationRehearsal;
import dev.ferry.vmm.tuning.RehearsalRounds;
import dev.ferry.vmm.tuning.SelfCheckFailed;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What the migration rehearsal goes through (MigrationRehearsal says when and why): two scratch
 * RAM files of 16 MiB, a unix socket in a private temporary directory, the real stream writer
 * and reader, precopy engine, sessions, page sink and state codecs; then rounds of the state
 * codecs and of the machine's own state save (and load, on a target), with the vCPU state saved
 * and restored on a scratch vCPU where the machine's own are running (ScratchVcpu). The scratch
 * target must equal the scratch source afterwards ({@link SelfCheckFailed}).
 */
final class ScratchMigration implements RehearsalRounds {

    static final long SCRATCH_RAM = 16L << 20;

    private final Machine machine;
    /** What this migration does with the machine. */
    private final SwitchoverControl switchover;
    /** The machine's own device sections, saved once at the start: what the rounds send. */
    private List<StateSection> devices;
    /** Opened for the state-transfer rounds, closed at the end. */
    private ScratchVcpu scratch;
    private VcpuState sample;
    private boolean ownVcpusRehearsed;
    private PageStateBitmap pageStates;
    private long[] pageStateWords;

    ScratchMigration(Machine machine) {
        this.machine = machine;
        this.switchover = machine.switchover();
    }

    @Override
    public void begin() throws Exception {
        devices = machine.onControlThread(switchover::rehearseStateTransferOnControlThread).get();
    }

    @Override
    public void migration() throws Exception {
        migrateOnce(devices);
    }

    @Override
    public void stateTransfer() throws Exception {
        if (scratch == null) {
            // A scratch vCPU's state, of a real vCPU's shape, is what the codec rounds encode.
            // A running machine's vCPUs cannot be saved without stopping them, so its save and
            // restore are rehearsed on the scratch one each round; a target's own vCPUs are
            // (rehearseStateTransferOnControlThread), and one scratch state does.
            ownVcpusRehearsed = machine.state() == RunState.INMIGRATE;
            pageStates = machine.pageStates();
            pageStateWords = pageStates.snapshot();
            scratch = switchover.scratchVcpu();
            sample = scratch.saveAndRestore();
        }
        codecRoundTrip(devices, ownVcpusRehearsed ? sample : scratch.saveAndRestore());
        pageStateRoundTrip(pageStates.pageCount(), pageStateWords);
        // One short control-thread task per round: QMP commands are not held up.
        machine.onControlThread(switchover::rehearseStateTransferOnControlThread).get();
    }

    @Override
    public void end() {
        if (scratch != null) {
            scratch.close();
            scratch = null;
        }
    }

    /** The state codecs as a switchover uses them: encode on the source, decode on the target. */
    static void codecRoundTrip(List<StateSection> devices, VcpuState vcpu) throws StateException {
        VcpuStateCodec.decode(VcpuStateCodec.VERSION, VcpuStateCodec.encode(vcpu));
        // Every kind of JSON value a device section may hold, so that the first real section,
        // whose values a fresh target's own devices may not have (a long, a null, a non-empty
        // array), does not deoptimise Jackson's tree reader (0.15-0.2 ms in the downtime,
        // -Xlog:jit+compilation showed BaseNodeDeserializer made not entrant there).
        StateSectionCodec.decode(StateSectionCodec.encode(JSON_SHAPES), JSON_SHAPES.name(), 1);
        List<StateSection> decoded = new java.util.ArrayList<>(devices.size());
        for (StateSection d : devices) {
            decoded.add(StateSectionCodec.decode(StateSectionCodec.encode(d), SwitchoverControl::deviceSectionVersion));
        }
        SwitchoverControl.decodeDeviceSections(decoded);
    }

    /** A bitmap whose words all differ from their neighbours: PAGE_STATE sends every word. */
    private static final long[] DENSE_PAGE_STATES = {1, 2, 3, 4, 5, 6, 7, 8};

    /**
     * The PAGE_STATE codec as a switchover uses it, on this machine's bitmap (16384 words for
     * 4 GiB, looped over word by word: interpreted, encoding them as runs took 0.6-0.8 ms of the
     * downtime) and on a bitmap sent word for word, so that neither form is a branch the
     * compiled code has never seen.
     */
    static void pageStateRoundTrip(long pageCount, long[] words) throws StreamException, SelfCheckFailed {
        pageStateRoundTripOf(pageCount, words);
        pageStateRoundTripOf(64L * DENSE_PAGE_STATES.length, DENSE_PAGE_STATES);
    }

    private static void pageStateRoundTripOf(long pageCount, long[] words) throws StreamException, SelfCheckFailed {
        Payloads.PageStates p = Payloads.pageStates(pageCount, words);
        if (!Arrays.equals(Payloads.pageStates(p.payload(), p.flags(), pageCount, 0), words)) {
            throw new SelfCheckFailed("the page-state bitmap differs after its codec (flags " + p.flags() + ")");
        }
    }

    /** One scratch migration over a unix socket; throws {@link SelfCheckFailed} if the copy differs. */
    static void migrateOnce(List<StateSection> devices) throws IOException, MigrationException, InterruptedException {
        MemoryLayout layout = new MemoryLayout(SCRATCH_RAM);
        MachineIdentity identity = new MachineIdentity(SCRATCH_RAM, 1, "none", "rehearsal");
        Path dir = Files.createTempDirectory("ferry-rehearsal");     // owner-only permissions
        Path socket = dir.resolve("stream.sock");
        try (GuestRam source = GuestRam.create(layout, "ferry-rehearsal-source");
             GuestRam target = GuestRam.create(layout, "ferry-rehearsal-target");
             SocketTransport.Listener listener = SocketTransport.listen(new MigrationUri.Unix(socket))) {
            fill(source);
            ScratchTarget incoming = new ScratchTarget(target, identity);
            AtomicReference<Exception> failure = new AtomicReference<>();
            Thread receiver = new Thread(() -> {
                Threads.lowerPriority(MigrationRehearsal.NICE);
                try {
                    new TargetSession(listener::accept).run(incoming);
                } catch (MigrationException e) {
                    failure.set(e);
                }
            }, "migration-rehearsal-in");
            receiver.setDaemon(true);
            receiver.start();
            SourceSession session = new SourceSession(SocketTransport.connect(new MigrationUri.Unix(socket)),
                    List.of(), identity, Duration.ofSeconds(30));
            try {
                PrecopyEngine engine = PrecopyEngine.create(new RamPages(source), new ResendAll(source),
                        session.sink(), new PrecopyParameters(60_000, 0, false, 20, 10, 1));
                session.run(engine, new ScratchSource(devices, layout));
            } finally {
                session.close();
            }
            receiver.join(30_000);
            if (failure.get() != null) {
                throw new IOException("the scratch target failed: " + failure.get().getMessage());
            }
            compare(source, target);
        } finally {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir);
        }
    }

    /** Pages of distinct content, some written as zero, some never touched (holes). */
    static void fill(GuestRam ram) {
        for (RamRange r : ram.layout().ranges()) {
            ByteBuffer b = ram.view(r.guestPhysicalAddress(), (int) r.size());
            for (int page = 0; page < r.size() / MemoryLayout.PAGE_SIZE; page++) {
                if (page % 8 == 7) {
                    continue;
                }
                int base = page * (int) MemoryLayout.PAGE_SIZE;
                long seed = page % 16 == 3 ? 0 : 0x9E3779B97F4A7C15L * (page + 1);
                for (int i = 0; i < MemoryLayout.PAGE_SIZE; i += 8) {
                    b.putLong(base + i, seed + i);
                }
            }
        }
    }

    static void compare(GuestRam source, GuestRam target) throws SelfCheckFailed {
        for (RamRange r : source.layout().ranges()) {
            ByteBuffer a = source.view(r.guestPhysicalAddress(), (int) r.size());
            ByteBuffer b = target.view(r.guestPhysicalAddress(), (int) r.size());
            int at = a.mismatch(b);
            if (at >= 0) {
                throw new SelfCheckFailed(String.format("the rehearsal's copy differs from its original at 0x%x",
                        r.guestPhysicalAddress() + at));
            }
        }
    }

    /** The final pass sends every page again (as if the guest had rewritten all of them). */
    private static final class ResendAll implements DirtyLog {
        private final GuestRam ram;

        ResendAll(GuestRam ram) {
            this.ram = ram;
        }

        @Override
        public void start() { }

        @Override
        public long[] fetchAndClear() {
            return ram.memfd().dataPages((int) MemoryLayout.PAGE_SIZE);
        }

        @Override
        public void stop() { }
    }

    /** The source's side of the switchover: no guest to stop; real codecs for the final state. */
    private static final class ScratchSource implements OutgoingMachine {
        private final List<StateSection> devices;
        private final MemoryLayout layout;

        ScratchSource(List<StateSection> devices, MemoryLayout layout) {
            this.devices = devices;
            this.layout = layout;
        }

        @Override
        public void stopGuest() { }

        @Override
        public void resumeGuest() { }

        @Override
        public void writeFinalState(RecordSink sink) throws IOException {
            long pages = layout.ramEnd() / MemoryLayout.PAGE_SIZE;
            new FinalStateRecords(List.of(sampleVcpu()), devices, pages, new long[(int) ((pages + 63) / 64)])
                    .writeTo(sink);
        }

        @Override
        public void throttle(int percent) { }
    }

    /** The target's side: scratch RAM; the state is decoded as for a real load, then dropped. */
    private static final class ScratchTarget implements IncomingMachine {
        private final GuestRam ram;
        private final MachineIdentity identity;
        private volatile GuestRamSink sink;

        ScratchTarget(GuestRam ram, MachineIdentity identity) {
            this.ram = ram;
            this.identity = identity;
        }

        @Override
        public MachineIdentity identity() {
            return identity;
        }

        @Override
        public void clearRam() {
            ram.discard();
            sink = new GuestRamSink(ram);
        }

        @Override
        public PageSink pages() {
            return sink;
        }

        @Override
        public long ramPages() {
            return ram.layout().ramSize() / MemoryLayout.PAGE_SIZE;
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
            if (!VcpuStateCodec.decode(version, state).equals(sampleVcpu())) {
                throw new StateException("the vCPU state decoded differs from the one encoded");
            }
        }

        @Override
        public long pageStatePages() {
            return ram.layout().ramEnd() / MemoryLayout.PAGE_SIZE;
        }

        @Override
        public void load(IncomingState state, Acknowledgement ack) throws StateException, IOException {
            SwitchoverControl.decodeDeviceSections(state.devices());
            ack.send();
        }
    }

    private static final StateSection JSON_SHAPES = jsonShapes();

    private static StateSection jsonShapes() {
        com.fasterxml.jackson.databind.node.ObjectNode o =
                com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
        o.put("int", 7).put("long", 1L << 40).put("negative", -3).put("yes", true).put("no", false)
                .put("text", "serial0").put("bytes", new byte[] {0, 1, 2, 3}).put("fraction", 0.5).putNull("none");
        o.putArray("ints").add(1).add(1L << 33).add(-1);
        o.putArray("empty");
        o.putArray("objects").addObject().put("x", 1).putArray("y").add(true).addNull();
        o.putObject("nested").putObject("deeper").putArray("list").addArray().add("a");
        return new StateSection("rehearsal-json-shapes", 1, 1, o, java.util.Map.of("sub", o.deepCopy()));
    }

    /** A vCPU state of the right shape, for the codecs only. */
    static VcpuState sampleVcpu() {
        Registers.Segment seg = new Registers.Segment(0, 0xffff, 0, 3, true, 0, false, true, false, false, false,
                false);
        Registers.DescriptorTable dt = new Registers.DescriptorTable(0, 0xffff);
        Registers.Special sregs = new Registers.Special(seg, seg, seg, seg, seg, seg, seg, seg, dt, dt, 0x10, 0, 0,
                0, 0, 0, 0xfee00900L, new long[4]);
        return new VcpuState(Registers.Standard.zero(), sregs, new byte[4096], List.of(new VcpuState.Xcr(0, 1)),
                new byte[1024], new byte[64], 0, new VcpuState.DebugRegisters(0, 0, 0, 0, 0, 0, 0),
                List.of(new VcpuState.Msr(0x10, 1)));
    }
}
