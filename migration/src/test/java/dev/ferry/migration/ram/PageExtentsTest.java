package dev.ferry.migration.ram;

import dev.ferry.migration.stream.StreamException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PageExtentsTest {

    private static long[] bits(int pages, int... set) {
        long[] b = new long[(pages + 63) / 64];
        for (int p : set) {
            b[p >>> 6] |= 1L << p;
        }
        return b;
    }

    private static String text(PageExtents e) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < e.count(); i++) {
            s.append(i == 0 ? "" : " ").append(e.first(i)).append('+').append(e.pages(i));
        }
        return s.toString();
    }

    @Test
    void runsOfSetBitsBecomeExtentsAcrossWordsAndUpToTheLastPage() throws Exception {
        long[] b = bits(200, 0, 1, 2, 63, 64, 65, 130, 199);
        PageExtents e = PageExtents.decode(PageExtents.encode(b, 200), 200, 0);
        assertEquals("0+3 63+3 130+1 199+1", text(e));
        assertEquals(8, e.totalPages());
    }

    @Test
    void bitsBeyondThePageCountAreNotPagesAndAFullBitmapIsOneExtent() throws Exception {
        long[] all = {-1L, -1L};
        assertEquals("0+100", text(PageExtents.decode(PageExtents.encode(all, 100), 100, 0)));
        assertEquals("", text(PageExtents.decode(PageExtents.encode(new long[2], 100), 100, 0)));
    }

    @Test
    void moreExtentsThanTheRecordHoldsAreCutAtTheLimit() throws Exception {
        int pages = (PageExtents.MAX_EXTENTS + 10) * 2;
        long[] everyOther = new long[(pages + 63) / 64];
        java.util.Arrays.fill(everyOther, 0x5555555555555555L);
        PageExtents e = PageExtents.decode(PageExtents.encode(everyOther, pages), pages, 0);
        assertEquals(PageExtents.MAX_EXTENTS, e.count());
        assertEquals(2L * (PageExtents.MAX_EXTENTS - 1), e.first(e.count() - 1));
    }

    private static ByteBuffer payload(long... firstAndPages) {
        ByteBuffer b = ByteBuffer.allocate(4 + firstAndPages.length * 8).putInt(firstAndPages.length / 2);
        for (long v : firstAndPages) {
            b.putLong(v);
        }
        return b.flip();
    }

    private static String refusal(ByteBuffer payload, long pageCount) {
        return assertThrows(StreamException.class, () -> PageExtents.decode(payload, pageCount, 4096)).getMessage();
    }

    @Test
    void hostileExtentsAreRefusedWithTheOffset() {
        assertTrue(refusal(payload(5, 0), 100).contains("extent 0 (0 pages from page 5) is empty"), "empty");
        assertTrue(refusal(payload(10, 5, 3, 1), 100).contains("extent 1"), "out of order");
        assertTrue(refusal(payload(10, 5, 15, 1), 100).contains("extent 1"), "touching the one before");
        assertTrue(refusal(payload(10, 5, 12, 1), 100).contains("extent 1"), "overlapping");
        assertTrue(refusal(payload(90, 11), 100).contains("beyond the RAM's 100 pages"), "past the end");
        assertTrue(refusal(payload(-1, 1), 100).contains("extent 0"), "a negative (huge) page number");
        assertTrue(refusal(payload(1, Long.MAX_VALUE), 100).contains("extent 0"), "a count that overflows");
        ByteBuffer lying = ByteBuffer.allocate(4 + 16).putInt(2).putLong(1).putLong(1).flip();
        assertTrue(refusal(lying, 100).contains("claims 2 extents in 20 bytes"), "count and length disagree");
        assertTrue(refusal(ByteBuffer.allocate(3), 100).contains("shorter than its extent count"), "truncated");
        assertTrue(refusal(payload(5, 0), 100).endsWith("(at stream offset 4096)"), refusal(payload(5, 0), 100));
    }
}
