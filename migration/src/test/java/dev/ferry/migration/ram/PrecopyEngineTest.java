package dev.ferry.migration.ram;

import dev.ferry.migration.stream.RecordType;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.function.LongPredicate;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The precopy engine against a simulated guest and link: a fake clock advances as bytes cross a
 * link of fixed bandwidth, and the guest dirties (and rewrites) pages at a fixed rate meanwhile,
 * slowed by the throttle. The target applies what it receives; after END it must hold exactly
 * the source's memory as it was when the guest stopped.
 */
class PrecopyEngineTest {

    static final int PAGE = 4096;

    /** Guest RAM, a link and a guest workload, all driven by one fake clock. */
    static class Simulation implements GuestPages, DirtyLog, RecordSink, OutgoingMachine {
        final int pages;
        final ByteBuffer source;
        final ByteBuffer target;
        final double linkBytesPerSecond;
        final double dirtyPagesPerSecond;
        final int workingSet;
        long nanos;
        double dirtyDebt;
        long[] dirty;
        boolean running = true;
        boolean logging;
        int throttle;
        int resumes;
        int stops;
        long generation;
        final List<RecordType> records = new ArrayList<>();
        /** The pages of each RAM record, in order. */
        final List<Long> plainPages = new ArrayList<>();
        long bytesOnLink;
        /** Every record as it went out (type, flags, payload): the stream the engine wrote. */
        final MessageDigest stream = sha256();
        /** The same without the RAM_EXTENTS record: what format 3.0 carried. */
        final MessageDigest streamWithoutExtents = sha256();
        /** The RAM_EXTENTS record's payload, as the engine wrote it. */
        ByteBuffer extents;
        int failAfterRecords = -1;
        Runnable onRecord = () -> { };

        Simulation(int pages, double linkBytesPerSecond, double dirtyPagesPerSecond, int workingSet) {
            this.pages = pages;
            this.source = ByteBuffer.allocateDirect(pages * PAGE);
            this.target = ByteBuffer.allocateDirect(pages * PAGE);
            this.linkBytesPerSecond = linkBytesPerSecond;
            this.dirtyPagesPerSecond = dirtyPagesPerSecond;
            this.workingSet = workingSet;
            this.dirty = new long[(pages + 63) / 64];
            // Half the pages hold data, half stay zero.
            for (int p = 0; p < pages; p += 2) {
                source.putLong(p * PAGE, 0x1000 + p);
            }
        }

        /** Time passes: the running guest dirties pages of its working set. */
        void advance(long deltaNanos) {
            nanos += deltaNanos;
            if (!running) {
                return;
            }
            dirtyDebt += dirtyPagesPerSecond * (100 - throttle) / 100.0 * deltaNanos / 1e9;
            while (dirtyDebt >= 1) {
                dirtyDebt -= 1;
                int p = (int) (generation++ % workingSet);
                source.putLong(p * PAGE + 8, generation);
                if (logging) {
                    dirty[p >>> 6] |= 1L << p;
                }
            }
        }

        @Override
        public long pageCount() {
            return pages;
        }

        @Override
        public long address(long index) {
            return index * PAGE;
        }

        @Override
        public ByteBuffer block(long index) {
            return source;
        }

        @Override
        public int offsetInBlock(long index) {
            return (int) (index * PAGE);
        }

        @Override
        public void start() {
            logging = true;
        }

        @Override
        public long[] fetchAndClear() {
            long[] d = dirty;
            dirty = new long[d.length];
            return d;
        }

        @Override
        public void stop() {
            logging = false;
        }

        @Override
        public void write(RecordType type, int flags, ByteBuffer... parts) throws IOException {
            if (failAfterRecords >= 0 && records.size() >= failAfterRecords) {
                throw new IOException("connection reset by peer");
            }
            records.add(type);
            long bytes = 0;
            ByteBuffer all = ByteBuffer.allocate(parts.length == 0 ? 0 : sum(parts));
            for (ByteBuffer p : parts) {
                bytes += p.remaining();
                all.put(p.duplicate());
            }
            bytesOnLink += bytes;
            stream.update(ByteBuffer.allocate(8).putInt(type.code()).putInt(flags).flip());
            stream.update(all.duplicate().flip());
            if (type == RecordType.RAM_EXTENTS) {
                extents = all.duplicate().flip();
            } else {
                streamWithoutExtents.update(ByteBuffer.allocate(8).putInt(type.code()).putInt(flags).flip());
                streamWithoutExtents.update(all.duplicate().flip());
            }
            advance((long) (bytes * 1e9 / linkBytesPerSecond));
            if (type == RecordType.RAM) {
                try {
                    PageBatch.apply(all.flip(), new PageSink() {
                        @Override
                        public boolean isRam(long gpa) {
                            return gpa >= 0 && gpa < (long) pages * PAGE;
                        }

                        @Override
                        public void write(long gpa, ByteBuffer page) {
                            plainPages.add(gpa / PAGE);
                            target.put((int) gpa, page, page.position(), PAGE);
                        }

                        @Override
                        public void zero(long gpa) {
                            plainPages.add(gpa / PAGE);
                            target.put((int) gpa, new byte[PAGE]);
                        }
                    });
                } catch (PageBatchException e) {
                    throw new IOException(e);
                }
            }
            if (type == RecordType.SEALED_PAGES) {
                // The fake sealer's "ciphertext" is the plain page after its number.
                for (ByteBuffer b = all.flip(); b.hasRemaining(); ) {
                    int at = (int) (b.getLong() * PAGE);
                    target.put(at, b, b.position(), PAGE);
                    b.position(b.position() + PAGE);
                }
            }
            onRecord.run();
        }

        private static int sum(ByteBuffer[] parts) {
            int n = 0;
            for (ByteBuffer p : parts) {
                n += p.remaining();
            }
            return n;
        }

        @Override
        public void stopGuest() {
            running = false;
            stops++;
        }

        @Override
        public void resumeGuest() {
            running = true;
            resumes++;
        }

        @Override
        public void writeFinalState(RecordSink sink) throws IOException {
            sink.write(RecordType.DEVICE, ByteBuffer.wrap(new byte[] {'{', '}'}));
        }

        @Override
        public void throttle(int percent) {
            throttle = percent;
        }

        PrecopyEngine engine(PrecopyParameters p) {
            return new PrecopyEngine(this, this, this, p, () -> nanos, this::advance);
        }

        PrecopyEngine engine(PageRouter router, PageSealer sealer, PrecopyParameters p) {
            return new PrecopyEngine(this, this, this, router, sealer, p, () -> nanos, this::advance);
        }
    }

    /** Routes pages by a predicate on the page number (a stand-in for the page-state bitmap). */
    record RouteBy(LongPredicate seal, LongPredicate skip) implements PageRouter {
        @Override
        public long sealed(int word) {
            return mask(word, seal);
        }

        @Override
        public long skipped(int word) {
            return mask(word, skip);
        }

        private static long mask(int word, LongPredicate p) {
            long m = 0;
            for (int i = 0; i < 64; i++) {
                if (p.test(((long) word << 6) + i)) {
                    m |= 1L << i;
                }
            }
            return m;
        }
    }

    /**
     * A helper's stand-in: each batch becomes one SEALED_PAGES record of (page number, page)
     * pairs, and every page handed over is logged with the pass it came in.
     */
    static final class FakeSealer implements PageSealer {
        final Simulation guest;
        final int batch;
        final List<List<Long>> passes = new ArrayList<>(List.of(new ArrayList<>()));
        int calls;

        FakeSealer(Simulation guest, int batch) {
            this.guest = guest;
            this.batch = batch;
        }

        @Override
        public int batchPages() {
            return batch;
        }

        @Override
        public long seal(long[] pages, int count, RecordSink sink) throws IOException {
            assertTrue(count >= 1 && count <= batch, "batch of " + count);
            calls++;
            ByteBuffer record = ByteBuffer.allocate(count * (8 + PAGE));
            for (int i = 0; i < count; i++) {
                passes.get(passes.size() - 1).add(pages[i]);
                record.putLong(pages[i]).put(guest.source.slice((int) (pages[i] * PAGE), PAGE));
            }
            sink.write(RecordType.SEALED_PAGES, record.flip());
            return record.limit();
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private static PrecopyParameters params(long downtimeMs, boolean autoConverge, int maxPasses) {
        return new PrecopyParameters(downtimeMs, 0, autoConverge, 20, 10, maxPasses);
    }

    @Test
    void aModestWorkloadConvergesAndTheTargetMatchesTheStoppedSource() throws Exception {
        // 64 MiB guest, 1 GB/s link, guest dirties 200 MB/s over 8 MiB; 5 ms downtime limit.
        Simulation s = new Simulation(16384, 1e9, 50_000, 2048);
        PrecopyEngine engine = s.engine(params(5, false, 100));
        MigrationStats st = engine.run(s);
        assertTrue(s.logging, "the dirty log stays on until the caller has the target's answer");
        engine.stopDirtyLog();
        engine.stopDirtyLog();
        assertFalse(s.logging);
        assertEquals(0, s.target.compareTo(s.source), "target memory equals the source at stop");
        assertTrue(st.passes() >= 2, "at least one pass over dirty pages: " + st);
        assertTrue(st.downtimeMillis() <= 5, "downtime within the limit: " + st);
        assertTrue(st.duplicate() >= 8192 - 2048, "the zero half of RAM (less what the guest wrote) went as markers: "
                + st.duplicate());
        assertEquals(s.bytesOnLink - 2, st.transferred(), "transferred counts the RAM records' bytes (not DEVICE's 2)");
        assertEquals(RecordType.END, s.records.get(s.records.size() - 1));
        assertEquals(RecordType.DEVICE, s.records.get(s.records.size() - 2));
        assertEquals(1, s.stops);
        assertEquals(0, s.resumes);
    }

    /**
     * The bytes of a whole simulated migration, pinned: the stream of format 4.0, so routing with
     * the default router changes nothing on the wire. Without its RAM_EXTENTS record it is, byte
     * for byte, the format 3.0 stream the engine wrote before pages could be routed (commit
     * d0640a2): {@link #FORMAT_3_STREAM}.
     */
    static final String MODEST_WORKLOAD_STREAM = "60d2711493b4abced5726e6b3e2db653ae081debfdd9d916744259a6339f1e68";
    static final String FORMAT_3_STREAM = "4daf19661576348bda091023cfb4211cd936350afd0851c823451e778661e621";

    @Test
    void theStreamOfAFixedWorkloadIsTheOnePinned() throws Exception {
        Simulation s = new Simulation(16384, 1e9, 50_000, 2048);
        s.engine(params(5, false, 100)).run(s);
        assertEquals(MODEST_WORKLOAD_STREAM, HexFormat.of().formatHex(s.stream.digest()));
        assertEquals(FORMAT_3_STREAM, HexFormat.of().formatHex(s.streamWithoutExtents.digest()),
                "format 4.0 adds RAM_EXTENTS and changes nothing else");
    }

    @Test
    void theFirstRecordNamesThePagesTheFirstPassSends() throws Exception {
        Simulation s = new Simulation(16384, 1e9, 50_000, 2048);
        s.engine(params(5, false, 100)).run(s);
        assertEquals(RecordType.RAM_EXTENTS, s.records.get(0));
        // The simulation knows no holes: every page goes in the first pass.
        PageExtents e = PageExtents.decode(s.extents, 16384, 0);
        assertEquals(1, e.count());
        assertEquals(0, e.first(0));
        assertEquals(16384, e.pages(0));
        assertEquals(16384, s.plainPages.stream().limit(16384).distinct().count(),
                "the first pass sends what RAM_EXTENTS named");
    }

    @Test
    void theDefaultRouterAndOneThatRoutesEverythingPlainWriteTodaysStream() throws Exception {
        Simulation viaDefault = new Simulation(16384, 1e9, 50_000, 2048);
        viaDefault.engine(PageRouter.ALL_PLAIN, null, params(5, false, 100)).run(viaDefault);
        assertEquals(MODEST_WORKLOAD_STREAM, HexFormat.of().formatHex(viaDefault.stream.digest()));

        // Another router object takes the routed path through the loops, asked for every word.
        Simulation routed = new Simulation(16384, 1e9, 50_000, 2048);
        MigrationStats st = routed.engine(new RouteBy(p -> false, p -> false), null, params(5, false, 100))
                .run(routed);
        assertEquals(MODEST_WORKLOAD_STREAM, HexFormat.of().formatHex(routed.stream.digest()));
        assertEquals(routed.bytesOnLink - 2, st.transferred());
        assertEquals(0, routed.target.compareTo(routed.source));
    }

    @Test
    void aRouterThatSkipsEverythingSendsNoRamButTheRestOfTheStream() throws Exception {
        Simulation s = new Simulation(16384, 1e9, 50_000, 2048);
        PrecopyEngine engine = s.engine(new RouteBy(p -> false, p -> true), null, params(5, false, 100));
        MigrationStats st = engine.run(s);
        assertEquals(List.of(RecordType.RAM_EXTENTS, RecordType.DEVICE, RecordType.END), s.records);
        assertEquals(0, PageExtents.decode(s.extents, 16384, 0).count(), "the target is to allocate nothing");
        assertEquals(4, st.transferred(), "nothing of RAM went but RAM_EXTENTS' empty list: " + st);
        assertEquals(0, st.duplicate(), "skipped pages count nowhere: " + st);
        assertEquals(0, st.normal());
        assertEquals(0, st.remaining());
        assertEquals(16384L * PAGE, st.total());
        assertEquals(1, s.stops);
    }

    @Test
    void skippedPagesAreLeftOutOfEveryFigure() throws Exception {
        // An idle guest; the upper half of RAM is skipped. Of the lower half, even pages hold
        // data (sent full) and odd ones are zero (sent as markers).
        Simulation s = new Simulation(4096, 1e9, 0, 1);
        MigrationStats st = s.engine(new RouteBy(p -> false, p -> p >= 2048), null, params(300, false, 10)).run(s);
        assertEquals(1024, st.normal(), st.toString());
        assertEquals(1024, st.duplicate(), st.toString());
        assertTrue(s.plainPages.stream().allMatch(p -> p < 2048));
        assertEquals(2048, s.plainPages.size());
    }

    @Test
    void aRouterThatSealsSomePagesHandsExactlyThoseToTheSealerInPassOrder() throws Exception {
        Simulation s = new Simulation(16384, 1e9, 50_000, 2048);
        LongPredicate sealed = p -> p % 3 == 0 || (p >= 4000 && p < 4100);
        FakeSealer sealer = new FakeSealer(s, 300);
        Simulation guest = s;
        OutgoingMachine hooks = new OutgoingMachine() {
            @Override
            public void stopGuest() {
                guest.stopGuest();
            }

            @Override
            public void resumeGuest() {
                guest.resumeGuest();
            }

            @Override
            public void writeFinalState(RecordSink sink) throws IOException {
                guest.writeFinalState(sink);
            }

            @Override
            public void throttle(int percent) {
                guest.throttle(percent);
            }

            @Override
            public void passCompleted(int pass) {
                sealer.passes.add(new ArrayList<>());
            }
        };
        MigrationStats st = s.engine(new RouteBy(sealed, p -> false), sealer, params(5, false, 100)).run(hooks);

        assertEquals(0, s.target.compareTo(s.source), "sealed and plain pages together make the stopped source");
        assertTrue(s.plainPages.stream().noneMatch(sealed::test), "no sealed page went plain");
        List<Long> first = sealer.passes.get(0);
        assertEquals(LongStream.range(0, 16384).filter(sealed).boxed().toList(), first, "the first pass seals every sealed page, in order");
        for (List<Long> pass : sealer.passes) {
            assertTrue(pass.stream().allMatch(sealed::test), "only sealed pages reach the sealer");
            for (int i = 1; i < pass.size(); i++) {
                assertTrue(pass.get(i - 1) < pass.get(i), "ascending within a pass, each page once: " + pass);
            }
        }
        assertEquals(st.passes() + 1, sealer.passes.size(), "the passes, then the last pages in the downtime");
        assertTrue(sealer.passes.get(1).size() > 0, "dirtied sealed pages went again");
        long sealedPages = sealer.passes.stream().mapToLong(List::size).sum();
        assertEquals(s.plainPages.size() + sealedPages, st.normal() + st.duplicate(), st.toString());
        assertEquals(s.bytesOnLink - 2, st.transferred(), "sealed records' bytes count as transferred");
        assertTrue(sealer.calls > sealedPages / 300, "in batches of at most 300");
    }

    @Test
    void aShrinkingDirtySetGetsAnotherPassEvenWithinTheLimit() throws Exception {
        // 256 MiB guest, 1 GB/s link, 20k pages/s dirtied: after the first pass the rest would
        // fit in the 300 ms limit, but it is far more than a short pause and shrinks fast.
        Simulation s = new Simulation(65536, 1e9, 20_000, 65536);
        MigrationStats st = s.engine(params(300, false, 100)).run(s);
        assertTrue(st.passes() >= 2 && st.passes() <= 1 + PrecopyEngine.MAX_EXTRA_PASSES, st.toString());
        assertTrue(st.downtimeMillis() <= 1, "a short final pause: " + st);
        assertEquals(0, s.target.compareTo(s.source));
    }

    @Test
    void evenAMillisecondOfLastPagesGetsAnotherPass() throws Exception {
        // An idle guest: 2000 pages/s dirtied while the first pass (128 MiB of data at 1 GB/s)
        // runs leave ~270 pages, a millisecond of downtime; one more pass with the guest running
        // leaves a few pages.
        Simulation s = new Simulation(65536, 1e9, 2_000, 65536);
        MigrationStats st = s.engine(params(300, false, 100)).run(s);
        assertEquals(2, st.passes(), st.toString());
        assertEquals(0, st.downtimeMillis(), "a pause shorter than a millisecond: " + st);
        assertEquals(0, s.target.compareTo(s.source));
    }

    @Test
    void aGuestFasterThanTheLinkConvergesOnlyWithAutoConverge() throws Exception {
        // 100 MB/s link, guest dirties 200 MB/s over 64 MiB: never converges unthrottled.
        Simulation plain = new Simulation(16384, 1e8, 50_000, 16384);
        MigrationStats unthrottled = plain.engine(params(50, false, 15)).run(plain);
        assertEquals(15, unthrottled.passes(), "gave up at the pass limit");
        assertTrue(unthrottled.downtimeMillis() > 50, "and the downtime blew the limit: " + unthrottled);

        Simulation throttled = new Simulation(16384, 1e8, 50_000, 16384);
        MigrationStats conv = throttled.engine(params(50, true, 15)).run(throttled);
        assertTrue(conv.passes() < 15, "converged before the limit: " + conv);
        assertTrue(conv.throttlePercent() > 0, "by throttling: " + conv);
        assertTrue(conv.downtimeMillis() <= 50, conv.toString());
        assertEquals(0, throttled.throttle, "the throttle is lifted at the end");
        assertEquals(0, throttled.target.compareTo(throttled.source));
    }

    @Test
    void maxBandwidthIsRespected() throws Exception {
        Simulation s = new Simulation(4096, 1e10, 0, 1);    // fast link, idle guest
        MigrationStats st = s.engine(new PrecopyParameters(300, 50_000_000, false, 20, 10, 10)).run(s);
        double seconds = st.totalTimeMillis() / 1000.0;
        assertTrue(st.transferred() / seconds <= 55_000_000, "rate " + st.transferred() / seconds);
        assertTrue(st.transferred() / seconds >= 40_000_000, "rate " + st.transferred() / seconds);
    }

    @Test
    void aNewMaxBandwidthAppliesToTheRunningMigration() throws Exception {
        // 8 MiB of data at 10 MB/s takes ~0.85 s; raised to 1 GB/s after the first records.
        Simulation s = new Simulation(4096, 1e10, 0, 1);
        PrecopyEngine e = s.engine(new PrecopyParameters(300, 10_000_000, false, 20, 10, 10));
        int[] records = {0};
        s.onRecord = () -> {
            if (++records[0] == 3) {
                e.setLimits(1_000_000_000, 300);
            }
        };
        MigrationStats st = e.run(s);
        assertTrue(st.totalTimeMillis() < 300, "the raised limit took effect: " + st);

        Simulation slow = new Simulation(4096, 1e10, 0, 1);
        MigrationStats unchanged = slow.engine(new PrecopyParameters(300, 10_000_000, false, 20, 10, 10)).run(slow);
        assertTrue(unchanged.totalTimeMillis() > 700, "without the change: " + unchanged);
        assertThrows(IllegalArgumentException.class, () -> e.setLimits(-1, 300));
    }

    @Test
    void aFailureAfterTheGuestStoppedResumesIt() {
        Simulation s = new Simulation(1024, 1e9, 100, 64);
        s.failAfterRecords = 0;
        PrecopyEngine e = s.engine(params(1000, false, 10));
        assertThrows(IOException.class, () -> e.run(s));
        assertEquals(0, s.stops, "failed while the guest was still running");
        assertTrue(s.running);

        Simulation late = new Simulation(1024, 1e9, 100, 64) {
            @Override
            public void writeFinalState(RecordSink sink) throws IOException {
                throw new IOException("target closed the connection");
            }
        };
        assertThrows(IOException.class, () -> late.engine(params(1000, false, 10)).run(late));
        assertEquals(1, late.stops);
        assertEquals(1, late.resumes, "the source guest runs again");
        assertTrue(late.running);
        assertFalse(late.logging, "a failed run ends dirty logging itself");
    }

    @Test
    void cancelStopsAtTheNextBatch() {
        Simulation s = new Simulation(16384, 1e9, 0, 1);
        PrecopyEngine e = s.engine(params(300, false, 10));
        s.onRecord = () -> {
            if (s.records.size() == 3) {
                e.cancel();
            }
        };
        assertThrows(CancellationException.class, () -> e.run(s));
        assertEquals(3, s.records.size());
        assertTrue(s.running);
        assertTrue(!s.logging, "dirty logging was stopped");
    }
}
