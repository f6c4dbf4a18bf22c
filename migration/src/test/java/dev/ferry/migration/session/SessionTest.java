package dev.ferry.migration.session;

import dev.ferry.migration.config.MachineIdentity;
import dev.ferry.migration.config.MachineIdentityCodec;
import dev.ferry.migration.ram.MigrationStats;
import dev.ferry.migration.ram.PrecopyEngine;
import dev.ferry.migration.ram.PrecopyParameters;
import dev.ferry.migration.state.StateSectionCodec;
import dev.ferry.migration.stream.RecordType;
import dev.ferry.migration.stream.StreamException;
import dev.ferry.migration.stream.StreamWriter;
import dev.ferry.migration.transport.FileMigrationChannel;
import dev.ferry.migration.transport.MigrationChannel;
import dev.ferry.migration.transport.MigrationUri;
import dev.ferry.migration.transport.SocketTransport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Source and target sessions over real sockets (and a file), with a guest thread that keeps
 * rewriting memory: the target must end with the stopped source's memory and state, and every
 * failure must leave the source guest running with a reason.
 */
class SessionTest {

    static final int PAGES = 4096;      // 16 MiB
    @TempDir
    Path tmp;
    private final List<AutoCloseable> cleanup = new ArrayList<>();
    private FakeGuest guest;

    @AfterEach
    void close() throws Exception {
        if (guest != null) {
            guest.kill();
        }
        for (AutoCloseable c : cleanup) {
            c.close();
        }
    }

    private static PrecopyParameters params() {
        return new PrecopyParameters(50, 0, false, 20, 10, 40);
    }

    private SourceSession lastSource;

    private SocketTransport.Listener listen() throws IOException {
        SocketTransport.Listener l = SocketTransport.listen(new MigrationUri.Unix(tmp.resolve("mig.sock")));
        cleanup.add(l);
        return l;
    }

    private CompletableFuture<Void> receive(TargetSession session, FakeGuest.Target target) {
        return CompletableFuture.runAsync(() -> {
            try {
                session.run(target);
            } catch (MigrationException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
    }

    private MigrationStats send(MigrationChannel main, List<MigrationChannel> ram, Duration ackTimeout)
            throws MigrationException {
        SourceSession s = new SourceSession(main, ram, guest.identity(), ackTimeout);
        lastSource = s;
        s.setThreadPriorities(new SourceThreadPriorities() {
            @Override
            public void yieldAfterSwitchover() {
                yielded.add(Thread.currentThread().getName());
            }

            @Override
            public void restoreAfterAnswer() {
                restored.add(Thread.currentThread().getName());
            }

            @Override
            public void raiseReturnPath() {
                returnPath.add("raise on " + Thread.currentThread().getName() + ", guest running " + guest.running());
            }

            @Override
            public void lowerReturnPath() {
                returnPath.add("lower on " + Thread.currentThread().getName());
            }
        });
        try {
            return s.run(PrecopyEngine.create(guest, guest, s.sink(), params()), guest);
        } finally {
            s.close();
        }
    }

    private void assertTargetHoldsTheStoppedGuest(FakeGuest.Target target) {
        assertFalse(guest.running(), "the source stays stopped after an acknowledged migration");
        assertEquals(-1, guest.memory.duplicate().clear().mismatch(target.memory.duplicate().clear()),
                "target memory equals the stopped source's");
        IncomingState s = target.loaded;
        assertNotNull(s, "the target loaded the final state");
        assertEquals(guest.writes(), target.vcpuWrites);
        assertEquals("serial0", s.devices().get(0).name());
        assertEquals(PAGES / 64, s.pageStates().length);
        assertNotNull(target.extents, "RAM_EXTENTS came after CONFIG");
        assertEquals(PAGES, target.extents.totalPages(), "the fake guest has no holes: every page is named");
    }

    /** Names of the source's threads that ran the yield hook, in order. */
    private final List<String> yielded = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** What the return-path thread's priority hooks saw. */
    private final List<String> returnPath = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Names of the source's threads that ran the restore hook once the answer was in. */
    private final List<String> restored = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Test
    void aRunningGuestMigratesOverAUnixSocket() throws Exception {
        guest = new FakeGuest(PAGES, 512);
        SocketTransport.Listener l = listen();
        FakeGuest.Target target = new FakeGuest.Target(guest.identity());
        CompletableFuture<Void> in = receive(new TargetSession(l::accept), target);
        MigrationStats stats = send(SocketTransport.connect(new MigrationUri.Unix(tmp.resolve("mig.sock"))), List.of(),
                Duration.ofSeconds(10));
        in.get(10, TimeUnit.SECONDS);
        assertTargetHoldsTheStoppedGuest(target);
        assertTrue(stats.duplicate() > 0 && stats.normal() > 0, stats.toString());
        assertTrue(lastSource.syncedBeforeSwitchover(), "the target answered SYNC with APPLIED");
        assertEquals(1, target.warningsBeforeLoad, "the SYNC told the target, once, before the state came");
        assertEquals(1, target.warnings.get());
        // The engine's thread lowers its priority once nothing urgent is left for it (after END)
        // and takes it back once the target's answer is in; the return path keeps its own.
        assertEquals(List.of(Thread.currentThread().getName()), yielded);
        assertEquals(List.of(Thread.currentThread().getName()), restored);
        // The return path is raised once the target has applied the SYNC, before the stop, and
        // lowered once it has read the answer.
        assertEquals(List.of("raise on migration-return-path, guest running true",
                "lower on migration-return-path"), returnPath);
    }

    @Test
    void multifdKeepsPassesInOrder() throws Exception {
        guest = new FakeGuest(PAGES, 2048);
        SocketTransport.Listener l = listen();
        FakeGuest.Target target = new FakeGuest.Target(guest.identity());
        CompletableFuture<Void> in = receive(new TargetSession(l::accept), target);
        MigrationUri uri = new MigrationUri.Unix(tmp.resolve("mig.sock"));
        List<MigrationChannel> ram = List.of(SocketTransport.connect(uri), SocketTransport.connect(uri),
                SocketTransport.connect(uri));
        MigrationStats stats = send(SocketTransport.connect(uri), ram, Duration.ofSeconds(10));
        in.get(10, TimeUnit.SECONDS);
        assertTargetHoldsTheStoppedGuest(target);
        assertTrue(stats.passes() >= 1);
        assertTrue(lastSource.syncedBeforeSwitchover(), "APPLIED came once every RAM channel was past the pass");
    }

    @Test
    void aFileRoundTripRestoresTheGuest() throws Exception {
        guest = new FakeGuest(PAGES, 512);
        Path file = tmp.resolve("saved.mig");
        send(FileMigrationChannel.create(file), List.of(), Duration.ofSeconds(10));
        FakeGuest.Target target = new FakeGuest.Target(guest.identity());
        FileMigrationChannel in = FileMigrationChannel.open(file);
        new TargetSession(() -> in).run(target);
        assertTargetHoldsTheStoppedGuest(target);
        assertEquals(0, target.warnings.get(), "a file has no switchover to be warned of");
    }

    @Test
    void aCorruptedOrTruncatedFileIsRefusedWithTheOffset() throws Exception {
        guest = new FakeGuest(PAGES, 512);
        Path file = tmp.resolve("saved.mig");
        send(FileMigrationChannel.create(file), List.of(), Duration.ofSeconds(10));
        byte[] bytes = Files.readAllBytes(file);
        byte[] flipped = bytes.clone();
        flipped[bytes.length / 2] ^= 0x10;
        Files.write(tmp.resolve("flipped.mig"), flipped);
        Files.write(tmp.resolve("short.mig"), Arrays.copyOf(bytes, bytes.length - 100));
        FakeGuest.Target target = new FakeGuest.Target(guest.identity());
        FileMigrationChannel f1 = FileMigrationChannel.open(tmp.resolve("flipped.mig"));
        MigrationException e = assertThrows(MigrationException.class, () -> new TargetSession(() -> f1).run(target));
        assertTrue(e.getMessage().contains("checksum mismatch") && e.getMessage().contains("offset"), e.getMessage());
        FileMigrationChannel f2 = FileMigrationChannel.open(tmp.resolve("short.mig"));
        e = assertThrows(MigrationException.class, () -> new TargetSession(() -> f2).run(target));
        assertTrue(e.getMessage().contains("stream ended"), e.getMessage());
        assertNull(target.loaded, "nothing is loaded from a bad stream");
    }

    @Test
    void aStreamWithoutRamExtentsAfterConfigIsRefused() throws Exception {
        guest = new FakeGuest(PAGES, 512);
        Path file = tmp.resolve("no-extents.mig");
        try (FileMigrationChannel out = FileMigrationChannel.create(file)) {
            StreamWriter w = new StreamWriter(out);
            w.writeHeader();
            w.writeRecord(RecordType.CONFIG, 0, ByteBuffer.wrap(MachineIdentityCodec.encode(guest.identity())));
            w.writeRecord(RecordType.END, 0);
        }
        FakeGuest.Target target = new FakeGuest.Target(guest.identity());
        FileMigrationChannel in = FileMigrationChannel.open(file);
        MigrationException e = assertThrows(MigrationException.class, () -> new TargetSession(() -> in).run(target));
        assertTrue(e.getMessage().contains("expected the RAM_EXTENTS record after CONFIG, got END"), e.getMessage());
        assertNull(target.extents);
    }

    @Test
    void aMismatchedTargetRefusesAndTheSourceResumes() throws Exception {
        guest = new FakeGuest(PAGES, 512);
        SocketTransport.Listener l = listen();
        MachineIdentity smaller = new MachineIdentity(8L << 20, 1, "none", "abc");
        FakeGuest.Target target = new FakeGuest.Target(smaller);
        CompletableFuture<Void> in = receive(new TargetSession(l::accept), target);
        MigrationException e = assertThrows(MigrationException.class, () -> send(
                SocketTransport.connect(new MigrationUri.Unix(tmp.resolve("mig.sock"))), List.of(),
                Duration.ofSeconds(10)));
        assertTrue(e.getMessage().contains("the target refused the migration")
                && e.getMessage().contains("RAM size is 16 MiB on the source and 8 MiB here"), e.getMessage());
        assertTrue(guest.running());
        assertThrows(Exception.class, () -> in.get(10, TimeUnit.SECONDS));
        long before = guest.writes();
        Thread.sleep(20);
        assertTrue(guest.writes() > before, "the source guest keeps running");
    }

    @Test
    void aTargetThatDiesMidStreamLeavesTheSourceRunning() throws Exception {
        guest = new FakeGuest(PAGES, 512);
        SocketTransport.Listener l = listen();
        CompletableFuture<Void> killer = CompletableFuture.runAsync(() -> {
            try (MigrationChannel c = l.accept()) {
                ByteBuffer b = ByteBuffer.allocate(300_000);
                while (b.hasRemaining() && c.read(b) >= 0) {
                    // read some of the stream, then vanish
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        MigrationException e = assertThrows(MigrationException.class, () -> send(
                SocketTransport.connect(new MigrationUri.Unix(tmp.resolve("mig.sock"))), List.of(),
                Duration.ofSeconds(10)));
        killer.get(10, TimeUnit.SECONDS);
        assertFalse(e.cancelled());
        assertTrue(e.getMessage().contains("failed"), e.getMessage());
        assertTrue(guest.running());
    }

    @Test
    void aTargetThatNeverAnswersTimesOutAndTheSourceResumes() throws Exception {
        guest = new FakeGuest(PAGES, 64);
        SocketTransport.Listener l = listen();
        CompletableFuture<MigrationChannel> silent = CompletableFuture.supplyAsync(() -> {
            try {
                MigrationChannel c = l.accept();
                ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
                while (c.read(b.clear()) >= 0) {
                    // swallow everything, never answer
                }
                return c;
            } catch (IOException e) {
                return null;
            }
        });
        MigrationException e = assertThrows(MigrationException.class, () -> send(
                SocketTransport.connect(new MigrationUri.Unix(tmp.resolve("mig.sock"))), List.of(),
                Duration.ofMillis(500)));
        assertTrue(e.getMessage().contains("did not acknowledge"), e.getMessage());
        // The engine's thread yielded after END; it takes its priority back before it resumes
        // the guest, or a busy host could starve the resumption.
        assertEquals(List.of(Thread.currentThread().getName()), yielded);
        assertEquals(List.of(Thread.currentThread().getName()), restored);
        assertTrue(guest.running(), "resumed after the missing acknowledgement");
        assertEquals(1, guest.resumes);
        silent.get(10, TimeUnit.SECONDS);
    }

    @Test
    void cancelStopsTheTransferAndResumesNothingThatWasNotStopped() throws Exception {
        guest = new FakeGuest(PAGES, 4096);
        SocketTransport.Listener l = listen();
        FakeGuest.Target target = new FakeGuest.Target(guest.identity());
        TargetSession ts = new TargetSession(l::accept);
        CompletableFuture<Void> in = receive(ts, target);
        SourceSession s = new SourceSession(SocketTransport.connect(new MigrationUri.Unix(tmp.resolve("mig.sock"))),
                List.of(), guest.identity(), Duration.ofSeconds(10));
        // A slow link (max-bandwidth 4 MiB/s) keeps the first pass going until the cancel.
        PrecopyEngine engine = PrecopyEngine.create(guest, guest, s.sink(),
                new PrecopyParameters(1, 4 << 20, false, 20, 10, 40));
        CompletableFuture.delayedExecutor(300, TimeUnit.MILLISECONDS).execute(s::cancel);
        MigrationException e = assertThrows(MigrationException.class, () -> s.run(engine, guest));
        s.close();
        assertTrue(e.cancelled(), e.getMessage());
        assertEquals("migration cancelled", e.getMessage());
        assertTrue(guest.running());
        assertThrows(Exception.class, () -> in.get(10, TimeUnit.SECONDS));
        assertNull(target.loaded);
    }

    @Test
    void theVcpuPayloadRoundTrips() throws Exception {
        assertEquals(7, Payloads.pass(Payloads.pass(7), RecordType.SYNC, 0));
        assertThrows(StreamException.class,
                () -> Payloads.pass(ByteBuffer.allocate(5), RecordType.APPLIED, 0));
        Payloads.Vcpu v = Payloads.vcpu(Payloads.vcpu(3, 5, 2, ByteBuffer.wrap(new byte[] {42, 43})), 0);
        assertEquals(3, v.index());
        assertEquals(5, v.version());
        assertEquals(2, v.minimumVersion());
        assertEquals(ByteBuffer.wrap(new byte[] {42, 43}), v.state());
        assertThrows(StreamException.class,
                () -> Payloads.vcpu(ByteBuffer.allocate(7), 0), "shorter than its header");
        assertThrows(StreamException.class,
                () -> Payloads.vcpu(Payloads.vcpu(0, 1, 2, ByteBuffer.allocate(0)), 0), "minimum above version");
        assertThrows(StreamException.class,
                () -> Payloads.pageStates(Payloads.pageStates(100, new long[2]).payload(), 0, 64, 0));
    }

    @Test
    void pageStatesGoBigEndianWordByWordAndComeBackEqual() throws Exception {
        long[] words = {0x0102030405060708L, -1L, 0, 1L << 63};
        Payloads.PageStates encoded = Payloads.pageStates(250, words);
        assertEquals(0, encoded.flags(), "four different words: every word is shorter than four runs");
        ByteBuffer p = encoded.payload();
        assertEquals(0, p.position());
        assertEquals(8 + 4 * 8, p.remaining());
        assertEquals(250, p.getLong(0));
        assertEquals(1, p.get(8), "docs/migration-stream.md: big-endian, like the framing");
        assertEquals(8, p.get(15));
        assertArrayEquals(words, Payloads.pageStates(p, 0, 250, 0));
        assertThrows(StreamException.class,
                () -> Payloads.pageStates(p.duplicate().limit(p.limit() - 1), 0, 250, 0), "a byte short");
    }

    @Test
    void aBitmapOfFewRunsGoesAsRunsAndComesBackEqual() throws Exception {
        // A 4 GiB guest: 2^20 pages, 16384 words; every 4th page of the first 512 MiB shared.
        long[] words = new long[16384];
        Arrays.fill(words, 0, 2048, 0x1111111111111111L);
        Payloads.PageStates encoded = Payloads.pageStates(1 << 20, words);
        assertEquals(RecordType.PAGE_STATE_RUNS, encoded.flags());
        ByteBuffer p = encoded.payload();
        assertEquals(8 + 2 * 12, p.remaining(), "two runs instead of 128 KiB");
        assertEquals(2048, p.getInt(8));
        assertEquals(0x1111111111111111L, p.getLong(12));
        assertEquals(16384 - 2048, p.getInt(20));
        assertEquals(0, p.getLong(24));
        assertArrayEquals(words, Payloads.pageStates(p, encoded.flags(), 1 << 20, 0));

        // The shorter form, and on a tie every word: 2 runs of 12 bytes = 3 words of 8.
        assertEquals(0, Payloads.pageStates(0, new long[0]).flags(), "no words");
        assertEquals(0, Payloads.pageStates(64, new long[] {0}).flags(), "one word: 8 bytes < 12");
        assertEquals(0, Payloads.pageStates(192, new long[] {5, 5, 7}).flags(), "a tie");
        assertEquals(RecordType.PAGE_STATE_RUNS, Payloads.pageStates(192, new long[] {5, 5, 5}).flags());
        assertArrayEquals(new long[0], Payloads.pageStates(Payloads.pageStates(0, new long[0]).payload(), 0, 0, 0));

        // 100 pages: two words; the last word's unused bits travel as they are.
        assertArrayEquals(new long[] {-1L, -1L},
                Payloads.pageStates(Payloads.pageStates(100, new long[] {-1L, -1L}).payload(),
                        RecordType.PAGE_STATE_RUNS, 100, 0));
    }

    @Test
    void runsThatDoNotCoverTheBitmapExactlyAreRefused() {
        int runs = RecordType.PAGE_STATE_RUNS;
        // 640 pages = 10 words.
        assertRunsRefused(runs, "runs cover 9 of 10 words", run(9, 0));
        assertRunsRefused(runs, "a run of 2 words after 9 of 10", run(9, 0), run(2, -1));
        assertRunsRefused(runs, "a run of 0 words after 0 of 10", run(0, 0), run(10, 0));
        assertRunsRefused(runs, "a run of 4294967295 words after 0 of 10", run(-1, 0));
        assertRunsRefused(runs, "runs take 11 bytes, not a multiple of 12",
                Arrays.copyOf(run(10, 0), 11));
        assertRunsRefused(0, "has 12 bytes of bitmap for 640 pages", run(10, 0));
    }

    private static byte[] run(int words, long word) {
        return ByteBuffer.allocate(12).putInt(words).putLong(word).array();
    }

    private static void assertRunsRefused(int flags, String why, byte[]... runs) {
        ByteBuffer p = ByteBuffer.allocate(8 + Arrays.stream(runs).mapToInt(r -> r.length).sum());
        p.putLong(640);
        for (byte[] r : runs) {
            p.put(r);
        }
        StreamException e = assertThrows(StreamException.class,
                () -> Payloads.pageStates(p.flip(), flags, 640, 77));
        assertTrue(e.getMessage().contains(why) && e.getMessage().endsWith("(at stream offset 77)"), e.getMessage());
    }
}
