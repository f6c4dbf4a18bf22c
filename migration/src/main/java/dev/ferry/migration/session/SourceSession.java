package dev.ferry.migration.session;

import dev.ferry.migration.config.MachineIdentity;
import dev.ferry.migration.config.MachineIdentityCodec;
import dev.ferry.migration.ram.MigrationStats;
import dev.ferry.migration.ram.OutgoingMachine;
import dev.ferry.migration.ram.PageBatch;
import dev.ferry.migration.ram.PrecopyEngine;
import dev.ferry.migration.ram.RecordSink;
import dev.ferry.migration.stream.Record;
import dev.ferry.migration.stream.RecordType;
import dev.ferry.migration.stream.StreamException;
import dev.ferry.migration.stream.StreamReader;
import dev.ferry.migration.stream.StreamWriter;
import dev.ferry.migration.transport.MigrationChannel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The source end of one migration: stream header and CONFIG, the precopy engine's records (RAM
 * over extra channels with multifd), then the target's answer on the return path. The guest is
 * handed over only when the target has acknowledged; any failure before that, including a
 * refusal or no answer, resumes the source guest (the engine does it before END, this class
 * after).
 */
public final class SourceSession {

    public static final Duration DEFAULT_ACK_TIMEOUT = Duration.ofSeconds(60);
    /** How long a failed send waits for the target's reason to arrive on the return path. */
    static final long REASON_WAIT_MS = 2_000;

    private final MigrationChannel main;
    private final StreamWriter writer;
    private final MachineIdentity identity;
    private final Duration ackTimeout;
    private final RamSenders ramSenders;
    private final List<MigrationChannel> all = new ArrayList<>();
    /** The target's answer: null for ACK, its reason for ERROR; exceptional if none came. */
    private final CompletableFuture<String> answer = new CompletableFuture<>();
    /** The target's APPLIED answer to the SYNC before the switchover: the pass it confirms. */
    private final CompletableFuture<Integer> applied = new CompletableFuture<>();
    /** The last pass the engine completed (the engine's thread only). */
    private int lastPass;
    /** System.nanoTime() when the target's ACK was read (or the file synced); 0 before. */
    private volatile long acknowledgedNanos;
    private volatile PrecopyEngine engine;
    private volatile boolean cancelled;
    private volatile boolean endSent;
    /** The guest has stopped: the RAM channels are ending, the last pages go on the main channel. */
    private volatile boolean switchedOver;
    /** The VMM's changes to its threads' priorities around the switchover. */
    private volatile SourceThreadPriorities priorities = SourceThreadPriorities.UNCHANGED;

    /**
     * @param ramChannels extra channels for RAM (multifd), empty for a single-channel stream
     */
    public SourceSession(MigrationChannel main, List<MigrationChannel> ramChannels, MachineIdentity identity,
                         Duration ackTimeout) {
        if (!ramChannels.isEmpty() && !main.hasReturnPath()) {
            throw new IllegalArgumentException("multifd needs socket channels");
        }
        this.main = main;
        this.writer = new StreamWriter(main);
        this.identity = identity;
        this.ackTimeout = ackTimeout;
        all.add(main);
        all.addAll(ramChannels);
        this.ramSenders = ramChannels.isEmpty() ? null : new RamSenders(ramChannels, this::abortChannels);
    }

    /**
     * Sets what the engine's and the return-path threads do with their own scheduling priority
     * around the switchover (SourceThreadPriorities says when and why).
     */
    public void setThreadPriorities(SourceThreadPriorities priorities) {
        this.priorities = priorities;
    }

    /**
     * Where the engine writes: RAM to the multifd channels if any until the switchover,
     * everything else (and the last pages, once the guest has stopped) to the main channel.
     */
    public RecordSink sink() {
        return new RecordSink() {
            @Override
            public void write(RecordType type, int flags, ByteBuffer... parts) throws IOException {
                if (type == RecordType.RAM) {
                    // Pages go through writePages: with multifd they belong on the RAM channels.
                    throw new IllegalArgumentException("RAM records are written with writePages");
                }
                writer.writeRecord(type, flags, parts);
                if (type == RecordType.END) {
                    endSent = true;
                    priorities.yieldAfterSwitchover();
                }
            }

            @Override
            public void writePages(PageBatch batch) throws IOException {
                if (ramSenders != null && !switchedOver) {
                    ramSenders.send(batch);
                } else {
                    writer.writeRecord(RecordType.RAM, 0, batch);
                }
            }
        };
    }

    /**
     * migrate_cancel: stops the engine and unblocks the channels. Once END has gone the target
     * may already be taking over, so the answer is awaited instead (a target that never answers
     * still times out and the source resumes).
     */
    public void cancel() {
        if (endSent) {
            return;
        }
        cancelled = true;
        PrecopyEngine e = engine;
        if (e != null) {
            e.cancel();
        }
        abortChannels();
    }

    /**
     * Runs the migration. Returns the final statistics once the target has acknowledged; the
     * source guest is then stopped for good, and dirty logging is left on: ending it re-registers
     * every RAM slot with KVM, milliseconds of CPU that on a host shared with the target ran
     * ahead of the target starting the guest (5 ms of a 8 ms pause, perf sched). The caller
     * ends it ({@link PrecopyEngine#stopDirtyLog()}) before the guest runs here again, if ever.
     * Throws with the reason otherwise, the guest resumed and dirty logging ended.
     */
    public MigrationStats run(PrecopyEngine precopy, OutgoingMachine hooks) throws MigrationException {
        this.engine = precopy;
        boolean acknowledged = false;
        try {
            try {
                writer.writeHeader();
                if (ramSenders != null) {
                    long session = new SecureRandom().nextLong();
                    writer.writeRecord(RecordType.CHANNEL, 0, Payloads.channel(new Payloads.Channel(session, 0,
                            all.size())));
                    ramSenders.start(session);
                }
                writer.writeRecord(RecordType.CONFIG, 0, ByteBuffer.wrap(MachineIdentityCodec.encode(identity)));
                if (main.hasReturnPath()) {
                    startReturnPath();
                }
            } catch (IOException e) {
                throw explain(e);
            }
            MigrationStats stats;
            try {
                stats = precopy.run(wrap(hooks));
            } catch (IOException | InterruptedException | RuntimeException e) {
                throw explain(e);
            }
            try {
                awaitAnswer();
            } catch (MigrationException e) {
                hooks.resumeGuest();
                throw e;
            }
            acknowledged = true;
            return stats;
        } finally {
            if (!acknowledged) {
                precopy.stopDirtyLog();
            }
            if (ramSenders != null) {
                ramSenders.stop();
            }
        }
    }

    private OutgoingMachine wrap(OutgoingMachine hooks) {
        return new OutgoingMachine() {
            @Override
            public void stopGuest() {
                if (ramSenders != null) {
                    // The last pass is small: it goes on the main channel, after every RAM
                    // channel's END. The RAM channels end before the SYNC, so the target has
                    // read their END, and its channel threads are gone, before it answers
                    // APPLIED and the guest stops: neither side waits for them in the downtime
                    // (1.3 ms of a 4 ms pause did, 1 GiB idle; and with END just after the
                    // SYNC round, a target channel thread that read it late held up the
                    // target's first record of the downtime by 1-7 ms, perf sched).
                    switchedOver = true;
                    try {
                        ramSenders.end();
                        ramSenders.finish();
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new CancellationException("interrupted while ending the RAM channels");
                    }
                }
                if (main.hasReturnPath()) {
                    syncWithTarget();
                }
                hooks.stopGuest();
            }

            @Override
            public void resumeGuest() {
                hooks.resumeGuest();
            }

            @Override
            public void writeFinalState(RecordSink sink) throws IOException {
                hooks.writeFinalState(sink);
            }

            @Override
            public void throttle(int percent) {
                hooks.throttle(percent);
            }

            @Override
            public void passCompleted(int pass) {
                lastPass = pass;
                if (ramSenders != null) {
                    try {
                        ramSenders.passEnd(pass);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
                hooks.passCompleted(pass);
            }
        };
    }

    /**
     * When the target acknowledged (System.nanoTime()), for a file when it was synced; 0 if not
     * (yet). The end of the downtime: the source's own clean-up after it is not part of it.
     */
    public long acknowledgedNanos() {
        return acknowledgedNanos;
    }

    /** Bytes of stream sent on the multifd channels so far; 0 without multifd. */
    public long multifdBytes() {
        return ramSenders == null ? 0 : ramSenders.bytesSent();
    }

    /** Whether the target answered the SYNC before the switchover (APPLIED) in time. */
    boolean syncedBeforeSwitchover() {
        return applied.isDone() && !applied.isCompletedExceptionally();
    }

    /** How long the source waits, its guest still running, for the target's APPLIED. */
    static final long SYNC_WAIT_MS = 1_000;

    /**
     * Before the guest stops: SYNC on the main channel, then wait (bounded) until the target
     * answers APPLIED, i.e. has written every page sent so far into its RAM. What is still in
     * the socket buffers when the last pass ends (megabytes on a fast link) is then applied while
     * the guest still runs, instead of in the downtime; the guest's writes meanwhile go in the
     * final pass. A target that does not answer in time only makes the downtime longer.
     */
    private void syncWithTarget() {
        try {
            writer.writeRecord(RecordType.SYNC, 0, Payloads.pass(lastPass));
            applied.get(SYNC_WAIT_MS, TimeUnit.MILLISECONDS);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (TimeoutException | ExecutionException e) {
            // no answer (in time): switch over anyway; a failed return path is reported later
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (cancelled) {
            throw new CancellationException("migration cancelled");
        }
    }

    private void startReturnPath() {
        Thread t = new Thread(() -> {
            try {
                StreamReader in = new StreamReader(main);
                in.readHeader();
                Record r = in.next();
                while (r.type() == RecordType.APPLIED) {
                    priorities.raiseReturnPath();
                    applied.complete(Payloads.pass(r.payload(), r.type(), r.offset()));
                    r = in.next();
                }
                long readNanos = System.nanoTime();
                priorities.lowerReturnPath();      // before anyone learns the answer: done, for the tests too
                applied.completeExceptionally(new StreamException("no APPLIED before " + r.type(), r.offset()));
                if (r.type() == RecordType.ACK) {
                    acknowledgedNanos = readNanos;
                    answer.complete(null);
                } else if (r.type() == RecordType.ERROR) {
                    answer.complete(Payloads.error(r.payload()));
                    // The target has given up: stop sending at once.
                    PrecopyEngine e = engine;
                    if (e != null) {
                        e.cancel();
                    }
                    abortChannels();
                } else {
                    answer.completeExceptionally(new StreamException("unexpected " + r.type()
                            + " record on the return path", r.offset()));
                }
            } catch (IOException | StreamException e) {
                priorities.lowerReturnPath();
                applied.completeExceptionally(e);
                answer.completeExceptionally(e);
            }
        }, "migration-return-path");
        t.setDaemon(true);
        t.start();
    }

    private void awaitAnswer() throws MigrationException {
        if (!main.hasReturnPath()) {
            try {
                main.sync();
                acknowledgedNanos = System.nanoTime();
                return;
            } catch (IOException e) {
                throw new MigrationException("cannot write the migration file: " + e.getMessage(), false, e);
            }
        }
        String refusal;
        try {
            refusal = answer.get(ackTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            abortChannels();
            throw new MigrationException("the target did not acknowledge the migration within "
                    + ackTimeout.toSeconds() + " s", false, e);
        } catch (ExecutionException e) {
            throw new MigrationException("the target did not acknowledge the migration: "
                    + describe(e.getCause()), false, e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException("interrupted while waiting for the target", false, e);
        } finally {
            // Whatever the answer (or none): a failure resumes the source guest next, which
            // must not wait behind a busy host.
            priorities.restoreAfterAnswer();
        }
        if (refusal != null) {
            throw new MigrationException("the target refused the migration: " + refusal);
        }
    }

    private MigrationException explain(Throwable e) {
        if (e instanceof java.io.UncheckedIOException u) {
            e = u.getCause();
        }
        // The target's own reason beats the broken pipe it caused.
        try {
            String refusal = answer.get(cancelled ? 0 : REASON_WAIT_MS, TimeUnit.MILLISECONDS);
            if (refusal != null) {
                return new MigrationException("the target refused the migration: " + refusal, false, e);
            }
        } catch (TimeoutException | ExecutionException | InterruptedException | CancellationException ignored) {
            // no reason from the target
        }
        if (cancelled || e instanceof CancellationException) {
            return new MigrationException("migration cancelled", true, e);
        }
        return new MigrationException("migration to " + main.describe() + " failed: " + describe(e), false, e);
    }

    private static String describe(Throwable e) {
        if (e instanceof java.io.EOFException || e instanceof java.nio.channels.ClosedChannelException) {
            return "the connection was closed";
        }
        if (e instanceof StreamException s && s.getMessage().startsWith("stream ended")) {
            return "the connection was closed before the target answered";
        }
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : m;
    }

    private void abortChannels() {
        all.forEach(MigrationChannel::abort);
    }

    /** Closes every channel (after run, whatever its outcome). */
    public void close() {
        for (MigrationChannel c : all) {
            try {
                c.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }
}
