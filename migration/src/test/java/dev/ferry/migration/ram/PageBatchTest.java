package dev.ferry.migration.ram;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PageBatchTest {

    /** 16 pages of RAM at 0, in a map, recording what was applied. */
    static final class FakeRam implements PageSink {
        final Map<Long, byte[]> pages = new HashMap<>();
        int writes;

        @Override
        public boolean isRam(long gpa) {
            return gpa >= 0 && gpa < 16 * 4096;
        }

        @Override
        public void write(long gpa, ByteBuffer page) {
            byte[] b = new byte[4096];
            page.duplicate().get(b);
            pages.put(gpa, b);
            writes++;
        }

        @Override
        public void zero(long gpa) {
            pages.put(gpa, new byte[4096]);
            writes++;
        }
    }

    private static ByteBuffer concat(ByteBuffer[] parts) {
        int n = 0;
        for (ByteBuffer b : parts) {
            n += b.remaining();
        }
        ByteBuffer out = ByteBuffer.allocate(n);
        for (ByteBuffer b : parts) {
            out.put(b.duplicate());
        }
        return out.flip();
    }

    @Test
    void zeroPagesTravelAsMarkersAndFullPagesAsViews() throws Exception {
        ByteBuffer guest = ByteBuffer.allocateDirect(3 * 4096);
        guest.put(4096 + 17, (byte) 42);
        PageBatch batch = new PageBatch();
        for (int i = 0; i < 3; i++) {
            assertTrue(batch.add(i * 4096L, guest.duplicate().position(i * 4096)));
        }
        assertEquals(2, batch.zeroPages());
        ByteBuffer[] parts = batch.encode();
        assertEquals(2, parts.length, "the table and one full page");
        assertTrue(parts[1].isDirect(), "the full page is a view of guest memory, not a copy");
        FakeRam ram = new FakeRam();
        assertEquals(3, PageBatch.apply(concat(parts), ram));
        assertEquals(42, ram.pages.get(4096L)[17]);
        assertArrayEquals(new byte[4096], ram.pages.get(0L));
    }

    /** 64 pages of "guest memory", every third one zero, each other one marked with its number. */
    private static ByteBuffer guestBlock() {
        ByteBuffer block = ByteBuffer.allocateDirect(64 * 4096);
        for (int i = 0; i < 64; i++) {
            if (i % 3 != 0) {
                block.putInt(i * 4096 + 4092, 0x1000 + i);
            }
        }
        return block;
    }

    private static PageBatch fill(ByteBuffer block, int from, int pages) {
        PageBatch batch = new PageBatch(256);
        for (int i = from; i < from + pages; i++) {
            assertTrue(batch.add(i * 4096L, block, i * 4096));
        }
        return batch;
    }

    private static ByteBuffer staged(PageBatch batch) {
        ByteBuffer staging = ByteBuffer.allocateDirect(batch.length());
        batch.stageInto(staging);
        assertEquals(batch.length(), staging.position(), "staged exactly the announced length");
        return staging.flip();
    }

    @Test
    void pagesAddedByBlockAndOffsetStageTheSameBytesAsTheirViews() throws Exception {
        ByteBuffer block = guestBlock();
        PageBatch batch = fill(block, 1, 15);
        assertEquals(5, batch.zeroPages(), "pages 3, 6, ... 15 are zero");
        assertEquals(0, block.position(), "the shared block is not moved");
        ByteBuffer staged = staged(batch);
        assertEquals(concat(batch.encode()), staged);
        FakeRam ram = new FakeRam();
        assertEquals(15, PageBatch.apply(staged, ram));
        assertEquals(0x1000 + 2, ByteBuffer.wrap(ram.pages.get(2 * 4096L)).getInt(4092));
        assertArrayEquals(new byte[4096], ram.pages.get(3 * 4096L));
    }

    @Test
    void aCopyStagesTheSameRecordAfterTheOriginalIsRefilled() {
        ByteBuffer block = guestBlock();
        PageBatch original = fill(block, 0, 30);
        ByteBuffer expected = staged(original);
        PageBatch copy = new PageBatch(256);
        copy.add(0, block, 4096);       // whatever it held before is replaced
        copy.copyFrom(original);
        original.clear();
        original.add(50 * 4096L, block, 50 * 4096);
        assertEquals(expected, staged(copy));
    }

    /**
     * Filling and staging a reused batch creates no object per page: a view per page made a
     * migrating source collect its young generation every ~120 ms. Per-page garbage shows up as
     * tens of bytes per page; the few per-batch objects of a non-inlined call do not.
     */
    @Test
    void fillingAndStagingAReusedBatchAllocatesNothingPerPage() {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        ByteBuffer block = ByteBuffer.allocateDirect(256 * 4096);
        for (int i = 0; i < 256; i += 2) {
            block.put(i * 4096 + 100, (byte) 1);
        }
        PageBatch batch = new PageBatch(256);
        ByteBuffer staging = ByteBuffer.allocateDirect(4 + 9 * 256 + 256 * 4096);
        int rounds = 200;
        long before = 0;
        for (int r = -20; r < rounds; r++) {       // the first rounds load classes: not counted
            if (r == 0) {
                before = threads.getCurrentThreadAllocatedBytes();
            }
            batch.clear();
            for (int i = 0; i < 256; i++) {
                batch.add(i * 4096L, block, i * 4096);
            }
            staging.clear();
            batch.stageInto(staging);
        }
        long perPage = (threads.getCurrentThreadAllocatedBytes() - before) / (rounds * 256L);
        assertTrue(perPage < 4, perPage + " bytes allocated per page");
        assertEquals(128, batch.zeroPages());
    }

    @Test
    void zeroDetectionLooksAtEveryByte() {
        ByteBuffer page = ByteBuffer.allocateDirect(4096);
        assertTrue(ZeroPages.isZero(page));
        page.put(4095, (byte) 1);
        assertFalse(ZeroPages.isZero(page));
    }

    @Test
    void hostileBatchesAreRefusedBeforeAnythingIsWritten() {
        FakeRam ram = new FakeRam();
        ByteBuffer tooMany = ByteBuffer.allocate(4).putInt(0, 1_000_000);
        assertTrue(assertThrows(PageBatchException.class, () -> PageBatch.apply(tooMany, ram)).getMessage()
                .contains("more than"));
        ByteBuffer outside = ByteBuffer.allocate(4 + 9).putInt(1).putLong(1L << 40).put((byte) 0).flip();
        assertTrue(assertThrows(PageBatchException.class, () -> PageBatch.apply(outside, ram)).getMessage()
                .contains("not guest RAM"));
        ByteBuffer unaligned = ByteBuffer.allocate(4 + 9).putInt(1).putLong(12).put((byte) 0).flip();
        assertTrue(assertThrows(PageBatchException.class, () -> PageBatch.apply(unaligned, ram)).getMessage()
                .contains("not page-aligned"));
        ByteBuffer shortData = ByteBuffer.allocate(4 + 9 + 100).putInt(1).putLong(0).put((byte) 1).flip().limit(113);
        assertTrue(assertThrows(PageBatchException.class, () -> PageBatch.apply(shortData, ram)).getMessage()
                .contains("bytes of page data"));
        ByteBuffer badKind = ByteBuffer.allocate(4 + 9).putInt(1).putLong(0).put((byte) 7).flip();
        assertTrue(assertThrows(PageBatchException.class, () -> PageBatch.apply(badKind, ram)).getMessage()
                .contains("unknown page kind"));
        // A good entry followed by a bad one: nothing at all is applied.
        ByteBuffer mixed = ByteBuffer.allocate(4 + 18).putInt(2).putLong(0).put((byte) 0).putLong(1L << 40)
                .put((byte) 0).flip();
        assertThrows(PageBatchException.class, () -> PageBatch.apply(mixed, ram));
        assertEquals(0, ram.writes);
    }
}
