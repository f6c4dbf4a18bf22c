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
