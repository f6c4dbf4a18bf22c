package dev.ferry.migration.ram;

import dev.ferry.migration.stream.RecordType;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;

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
        long bytesOnLink;
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
                            target.put((int) gpa, page, page.position(), PAGE);
                        }

                        @Override
                        public void zero(long gpa) {
                            target.put((int) gpa, new byte[PAGE]);
                        }
                    });
                } catch (PageBatchException e) {
                    throw new IOException(e);
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
