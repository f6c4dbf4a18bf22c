package dev.ferry.migration.session;

import dev.ferry.migration.config.MachineIdentity;
import dev.ferry.migration.config.MachineIdentityCodec;
import dev.ferry.migration.ram.PageBatch;
import dev.ferry.migration.ram.PageExtents;
import dev.ferry.migration.ram.PageBatchException;
import dev.ferry.migration.state.StateException;
import dev.ferry.migration.state.StateSection;
import dev.ferry.migration.state.StateSectionCodec;
import dev.ferry.migration.stream.Record;
import dev.ferry.migration.stream.RecordType;
import dev.ferry.migration.stream.StreamException;
import dev.ferry.migration.stream.StreamReader;
import dev.ferry.migration.stream.StreamWriter;
import dev.ferry.migration.transport.MigrationChannel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Phaser;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The target end of one migration: accepts the channel(s), checks CONFIG against this machine
 * before any page is written, applies RAM, collects vCPU/device/page state, and at END loads it
 * and acknowledges on the return path. Any failure is answered with ERROR and thrown; the
 * caller must then not run the guest. The stream is hostile input throughout.
 */
public final class TargetSession {

    /** Yields the channels of an incoming migration: the first, then (multifd) the others. */
    @FunctionalInterface
    public interface Acceptor {
        MigrationChannel accept() throws IOException;
    }

    private final Acceptor acceptor;
    private final List<MigrationChannel> channels = new CopyOnWriteArrayList<>();
    private final AtomicReference<Exception> failure = new AtomicReference<>();
    private final AtomicLong received = new AtomicLong();
    private final AtomicLong pages = new AtomicLong();
    private volatile StreamWriter answer;
    /** The return path's stream header has been written (guarded by the answer writer). */
    private boolean answerStarted;
    private volatile MigrationChannel mainChannel;
    private volatile boolean aborted;

    public TargetSession(Acceptor acceptor) {
        this.acceptor = acceptor;
    }

    /** Bytes of stream read so far (all channels). */
    public long bytesReceived() {
        return received.get();
    }

    public long pagesReceived() {
        return pages.get();
    }

    /** Fails the session from outside (migrate_cancel on the target, shutdown). */
    public void abort() {
        aborted = true;
        channels.forEach(MigrationChannel::abort);
    }

    /**
     * Receives the whole stream into {@code machine} and acknowledges. On return the machine's
     * state is loaded and the source has been told; the caller starts the guest.
     */
    public void run(IncomingMachine machine) throws MigrationException {
        try {
            receive(machine);
        } catch (IOException | StreamException | StateException | PageBatchException | RuntimeException e) {
            Exception first = failure.compareAndSet(null, e) ? e : failure.get();
            refuse(first, true);
            throw new MigrationException(aborted ? "incoming migration cancelled" : reason(first), aborted, first);
        } finally {
            for (MigrationChannel c : channels) {
                try {
                    c.close();
                } catch (IOException e) {
                    // closing anyway
                }
            }
        }
    }

    private static String reason(Exception e) {
        if (e instanceof StreamException || e instanceof StateException || e instanceof PageBatchException) {
            return "invalid migration stream: " + e.getMessage();
        }
        if (e instanceof java.nio.channels.ClosedChannelException) {
            return "the connection was closed";
        }
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }

    private void receive(IncomingMachine machine) throws IOException, StreamException, StateException,
            PageBatchException {
        Connection first = connect();
        Connection main = first;
        List<Connection> ramConnections = new ArrayList<>();
        if (first.channel != null) {
            // multifd: gather every channel of this session, in whatever order they connect.
            Connection[] byIndex = new Connection[first.channel.count()];
            byIndex[first.channel.index()] = first;
            for (int n = 1; n < byIndex.length; n++) {
                Connection c = connect();
                if (c.channel == null || c.channel.session() != first.channel.session()
                        || c.channel.count() != byIndex.length || byIndex[c.channel.index()] != null) {
                    throw new StreamException("a connection that is not part of this multifd migration arrived", 0);
                }
                byIndex[c.channel.index()] = c;
            }
            main = byIndex[0];
            for (int i = 1; i < byIndex.length; i++) {
                ramConnections.add(byIndex[i]);
            }
        }
        if (main.ch != mainChannel) {
            answerOn(main.ch);
        }
        Record config = main.channel == null ? main.first : main.reader.next();
        if (config.type() != RecordType.CONFIG) {
            throw new StreamException("expected the CONFIG record first, got " + config.type(), config.offset());
        }
        MachineIdentity source = MachineIdentityCodec.decode(Payloads.bytes(config.payload()));
        List<String> mismatches = source.mismatches(machine.identity());
        if (!mismatches.isEmpty()) {
            throw new StateException("the source machine does not match this one: " + String.join("; ", mismatches));
        }
        machine.clearRam();
        Record extents = main.next();
        if (extents.type() != RecordType.RAM_EXTENTS) {
            throw new StreamException("expected the RAM_EXTENTS record after CONFIG, got " + extents.type(),
                    extents.offset());
        }
        machine.allocateAhead(PageExtents.decode(extents.payload(), machine.ramPages(), extents.offset()));
        RamReceivers receivers = ramConnections.isEmpty() ? null : new RamReceivers(ramConnections, machine);
        boolean[] vcpus = new boolean[source.vcpus()];
        List<StateSection> devices = new ArrayList<>();
        long[] pageStates = null;
        while (true) {
            Record r = main.next();
            switch (r.type()) {
                case RAM -> {
                    if (receivers != null) {
                        // multifd: the main channel carries the last pages, sent after every
                        // RAM channel's END; older copies on those channels must land first.
                        receivers.await();
                    }
                    pages.addAndGet(PageBatch.apply(r.payload(), machine.pages()));
                }
                case PASS_END -> { }
                case SYNC -> {
                    machine.switchoverImminent();
                    int pass = Payloads.pass(r.payload(), r.type(), r.offset());
                    if (receivers != null) {
                        // The RAM channels end before the SYNC: all of them have, and every
                        // page they carried is in RAM, once their threads are gone.
                        receivers.await();
                    }
                    answer(RecordType.APPLIED, Payloads.pass(pass));
                }
                case VCPU -> {
                    Payloads.Vcpu v = Payloads.vcpu(r.payload(), r.offset());
                    if (v.index() < 0 || v.index() >= vcpus.length || vcpus[v.index()]) {
                        throw new StreamException("VCPU record for vCPU " + v.index() + " is out of place ("
                                + vcpus.length + " vCPUs)", r.offset());
                    }
                    if (v.minimumVersion() > machine.vcpuStateVersion()) {
                        throw new StreamException("VCPU record for vCPU " + v.index() + " needs version "
                                + v.minimumVersion() + " of the vCPU state; this Ferry reads up to "
                                + machine.vcpuStateVersion(), r.offset());
                    }
                    try {
                        machine.vcpuState(v.index(), v.version(), v.state());
                    } catch (StateException e) {
                        throw new StreamException("VCPU record for vCPU " + v.index() + ": " + e.getMessage(),
                                r.offset());
                    }
                    vcpus[v.index()] = true;
                }
                case DEVICE -> devices.add(StateSectionCodec.decode(Payloads.bytes(r.payload()),
                        machine::deviceSectionVersion));
                case PAGE_STATE -> {
                    if (pageStates != null) {
                        throw new StreamException("second PAGE_STATE record", r.offset());
                    }
                    pageStates = Payloads.pageStates(r.payload(), r.flags(), machine.pageStatePages(),
                            r.offset());
                }
                case END -> {
                    if (receivers != null) {
                        receivers.await();
                    }
                    for (int i = 0; i < vcpus.length; i++) {
                        if (!vcpus[i]) {
                            throw new StreamException("the stream ended without the state of vCPU " + i, r.offset());
                        }
                    }
                    machine.load(new IncomingState(devices, pageStates), this::acknowledge);
                    return;
                }
                default -> throw new StreamException("unexpected " + r.type() + " record", r.offset());
            }
        }
    }

    private void acknowledge() throws IOException {
        answer(RecordType.ACK);
    }

    /** One record on the return path (if there is one); the stream header goes before the first. */
    private void answer(RecordType type, ByteBuffer... payload) throws IOException {
        StreamWriter w = answer;
        if (w != null) {
            synchronized (w) {
                writeAnswer(w, type, payload);
            }
        }
    }

    /** Under {@code w}'s lock: the return path's header before its first record, then the record. */
    private void writeAnswer(StreamWriter w, RecordType type, ByteBuffer... payload) throws IOException {
        if (!answerStarted) {
            w.writeHeader();
            answerStarted = true;
        }
        w.writeRecord(type, 0, payload);
    }

    /** How long a refusing target keeps reading so its ERROR is not lost to a connection reset. */
    static final long LINGER_MS = 3_000;

    /**
     * Tells the source why (best effort: the connection may be what failed). The ERROR is
     * followed by end-of-stream, and the main channel is drained until the source closes it:
     * closing a socket with unread input would reset the connection, and a reset can destroy
     * the ERROR before the source has read it.
     */
    private void refuse(Exception e, boolean onMainThread) {
        StreamWriter w = answer;
        MigrationChannel main = mainChannel;
        if (w != null) {
            synchronized (w) {
                try {
                    writeAnswer(w, RecordType.ERROR, Payloads.error(reason(e)));
                    main.finishOutput();
                } catch (IOException | RuntimeException ignored) {
                    // the source will see the connection close instead
                }
            }
        }
        for (MigrationChannel c : channels) {
            if (c != main) {
                c.abort();
            }
        }
        if (main == null) {
            return;
        }
        java.util.concurrent.CompletableFuture.delayedExecutor(LINGER_MS, java.util.concurrent.TimeUnit.MILLISECONDS)
                .execute(main::abort);
        if (onMainThread) {
            ByteBuffer sink = ByteBuffer.allocateDirect(64 * 1024);
            try {
                while (main.read(sink.clear()) >= 0) {
                    // discard until the source closes (or the linger time aborts the channel)
                }
            } catch (IOException ignored) {
                // closed or aborted
            }
        }
    }

    /** One accepted channel, its header read and its first record looked at. */
    private final class Connection {
        final MigrationChannel ch;
        final StreamReader reader;
        final Record first;
        final Payloads.Channel channel;

        Connection(MigrationChannel ch) throws IOException, StreamException {
            this.ch = ch;
            this.reader = new StreamReader(ch);
            reader.readHeader();
            Record r = reader.next();
            this.channel = r.type() == RecordType.CHANNEL ? Payloads.channel(r.payload(), r.offset()) : null;
            this.first = r;
            received.addAndGet(reader.offset());
        }

        Record next() throws IOException, StreamException {
            long before = reader.offset();
            Record r = reader.next();
            received.addAndGet(reader.offset() - before);
            return r;
        }
    }

    /** The return path goes on {@code ch}: the first connection until the multifd main channel is known. */
    private void answerOn(MigrationChannel ch) {
        mainChannel = ch;
        answer = ch.hasReturnPath() ? new StreamWriter(ch) : null;
        answerStarted = false;
    }

    private Connection connect() throws IOException, StreamException {
        MigrationChannel ch = acceptor.accept();
        channels.add(ch);
        if (mainChannel == null) {
            answerOn(ch);
        }
        if (aborted) {
            ch.abort();
        }
        return new Connection(ch);
    }

    /** The target side of multifd: one thread per RAM channel, passes kept in order by a barrier. */
    private final class RamReceivers {
        private final List<Thread> threads = new ArrayList<>();
        private final Phaser passes;

        RamReceivers(List<Connection> connections, IncomingMachine machine) {
            passes = new Phaser(connections.size());
            for (Connection c : connections) {
                Thread t = new Thread(() -> receiveLoop(c, machine), "migration-ram-in-" + c.channel.index());
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
        }

        private void receiveLoop(Connection c, IncomingMachine machine) {
            try {
                while (true) {
                    Record r = c.next();
                    switch (r.type()) {
                        case RAM -> pages.addAndGet(PageBatch.apply(r.payload(), machine.pages()));
                        case PASS_END -> {
                            // A page sent again in the next pass must not be overtaken by its
                            // older copy on another channel: all channels finish a pass first.
                            if (passes.arriveAndAwaitAdvance() < 0) {
                                return;
                            }
                        }
                        case END -> {
                            passes.arriveAndDeregister();
                            return;
                        }
                        default -> throw new StreamException("unexpected " + r.type() + " record on multifd channel "
                                + c.channel.index(), r.offset());
                    }
                }
            } catch (IOException | StreamException | PageBatchException | RuntimeException e) {
                if (failure.compareAndSet(null, e)) {
                    refuse(e, false);
                }
                passes.forceTermination();
            }
        }

        /** Waits for every RAM channel's END; throws the first channel's failure. */
        void await() throws StreamException {
            for (Thread t : threads) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    throw interrupted();
                }
            }
            throwIfFailed();
        }

        private StreamException interrupted() {
            Thread.currentThread().interrupt();
            return new StreamException("interrupted while waiting for the RAM channels", 0);
        }

        private void throwIfFailed() throws StreamException {
            Exception e = failure.get();
            if (e != null) {
                throw new StreamException("multifd channel failed: " + e.getMessage(), 0);
            }
        }
    }
}
