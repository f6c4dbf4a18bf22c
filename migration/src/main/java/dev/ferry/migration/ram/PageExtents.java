package dev.ferry.migration.ram;

import dev.ferry.migration.stream.RecordType;
import dev.ferry.migration.stream.StreamException;

import java.nio.ByteBuffer;

/**
 * The pages the first pass will send, as extents of consecutive page numbers (numbers as in
 * {@link GuestPages}): the payload of the RAM_EXTENTS record (docs/migration-stream.md). The
 * source knows them before it sends a page (the guest-RAM file's holes are never sent), and the
 * target can allocate their memory ahead of the stream, off its receiving threads, instead of
 * allocating every page as its record arrives (docs/migration.md, "Memory the target allocates
 * ahead").
 *
 * <pre>
 * payload := count u32 | count × (first page u64 | pages u64)
 * </pre>
 * Extents are in ascending order, each at least one page, none touching or overlapping the next,
 * all below the RAM's page count. A source with more extents than fit in the record's cap sends
 * the first {@link #MAX_EXTENTS}: the target then allocates ahead only that far.
 */
public final class PageExtents {

    private static final int EXTENT_BYTES = 16;
    /** As many as fit in one record: a 4 GiB guest whose every other page is in use has 524,288. */
    public static final int MAX_EXTENTS = (RecordType.RAM_EXTENTS.maxPayload() - 4) / EXTENT_BYTES;

    private final long[] first;
    private final long[] pages;

    private PageExtents(long[] first, long[] pages) {
        this.first = first;
        this.pages = pages;
    }

    public int count() {
        return first.length;
    }

    /** The first page number of extent {@code i}. */
    public long first(int i) {
        return first[i];
    }

    /** The number of pages of extent {@code i}. */
    public long pages(int i) {
        return pages[i];
    }

    /** The pages of all extents together. */
    public long totalPages() {
        long n = 0;
        for (long p : pages) {
            n += p;
        }
        return n;
    }

    /**
     * The payload for the pages set in {@code bits} (bit i of word i/64 = page i) below
     * {@code pageCount}: runs of set bits, the first {@link #MAX_EXTENTS} of them.
     */
    public static ByteBuffer encode(long[] bits, long pageCount) {
        int count = 0;
        for (long p = nextSet(bits, 0, pageCount); p < pageCount && count < MAX_EXTENTS;
             p = nextSet(bits, nextClear(bits, p, pageCount), pageCount)) {
            count++;
        }
        ByteBuffer out = ByteBuffer.allocate(4 + count * EXTENT_BYTES).putInt(count);
        long p = nextSet(bits, 0, pageCount);
        for (int i = 0; i < count; i++) {
            long end = nextClear(bits, p, pageCount);
            out.putLong(p).putLong(end - p);
            p = nextSet(bits, end, pageCount);
        }
        return out.flip();
    }

    /** Reads a RAM_EXTENTS payload, hostile input: every rule above is checked. */
    public static PageExtents decode(ByteBuffer payload, long pageCount, long offset) throws StreamException {
        ByteBuffer b = payload.duplicate();
        if (b.remaining() < 4) {
            throw new StreamException("RAM_EXTENTS record is shorter than its extent count", offset);
        }
        long count = Integer.toUnsignedLong(b.getInt());
        if (count > MAX_EXTENTS || b.remaining() != count * EXTENT_BYTES) {
            throw new StreamException("RAM_EXTENTS record claims " + count + " extents in " + (b.remaining() + 4)
                    + " bytes (" + EXTENT_BYTES + " bytes each, at most " + MAX_EXTENTS + ")", offset);
        }
        long[] first = new long[(int) count];
        long[] pages = new long[(int) count];
        long next = 0;
        for (int i = 0; i < count; i++) {
            first[i] = b.getLong();
            pages[i] = b.getLong();
            if (first[i] < next || pages[i] <= 0 || pages[i] > pageCount - first[i]) {
                throw new StreamException("RAM_EXTENTS extent " + i + " (" + Long.toUnsignedString(pages[i])
                        + " pages from page " + Long.toUnsignedString(first[i]) + ") is empty, out of order, touches"
                        + " the one before or ends beyond the RAM's " + pageCount + " pages", offset);
            }
            next = first[i] + pages[i] + 1;
        }
        return new PageExtents(first, pages);
    }

    private static boolean set(long[] bits, long p) {
        int w = (int) (p >>> 6);
        return w < bits.length && (bits[w] & (1L << p)) != 0;
    }

    /** The first page at or after {@code p} whose bit is set, or {@code limit}. */
    private static long nextSet(long[] bits, long p, long limit) {
        while (p < limit) {
            int w = (int) (p >>> 6);
            if (w >= bits.length) {
                return limit;
            }
            long word = bits[w] & (-1L << p);
            if (word != 0) {
                return Math.min(limit, ((long) w << 6) + Long.numberOfTrailingZeros(word));
            }
            p = ((long) w + 1) << 6;
        }
        return limit;
    }

    /** The first page at or after {@code p} whose bit is clear, or {@code limit}. */
    private static long nextClear(long[] bits, long p, long limit) {
        while (p < limit && set(bits, p)) {
            int w = (int) (p >>> 6);
            long word = ~bits[w] & (-1L << p);
            if (word != 0) {
                return Math.min(limit, ((long) w << 6) + Long.numberOfTrailingZeros(word));
            }
            p = ((long) w + 1) << 6;
        }
        return Math.min(p, limit);
    }
}
