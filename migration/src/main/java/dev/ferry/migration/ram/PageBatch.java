package dev.ferry.migration.ram;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The payload of a RAM record (docs/migration-stream.md): a batch of pages, each a zero marker or
 * a full page.
 *
 * <pre>
 * payload := count u32 | count × (gpa u64 | kind u8) | the full pages' bytes, in entry order
 * kind    := 0 zero page | 1 full page
 * </pre>
 * The writer side produces buffers for a gathering write, the page buffers being views of guest
 * memory; the reader checks the batch as hostile input before touching guest memory.
 */
public final class PageBatch {

    public static final int KIND_ZERO = 0;
    public static final int KIND_FULL = 1;
    static final int ENTRY_SIZE = 9;
    /** Pages per batch: 16 MiB record cap / 4 KiB, less the table. */
    public static final int MAX_PAGES = 4000;

    // Primitive arrays: a batch is filled page by page on the migration's hot path.
    private final long[] addresses;
    private final boolean[] zero;
    private final List<ByteBuffer> fullPages = new ArrayList<>();
    private int size;

    public PageBatch() {
        this(MAX_PAGES);
    }

    /** A batch of at most {@code capacity} pages (at most {@link #MAX_PAGES}). */
    public PageBatch(int capacity) {
        if (capacity < 1 || capacity > MAX_PAGES) {
            throw new IllegalArgumentException("batch capacity " + capacity + " outside 1.." + MAX_PAGES);
        }
        addresses = new long[capacity];
        zero = new boolean[capacity];
    }

    /** Empties the batch for reuse, once what {@link #encode()} returned has been written. */
    public void clear() {
        size = 0;
        fullPages.clear();
    }

    /** Adds a page: {@code page} (4096 bytes from its position) is sent as zero marker if it is all zero. */
    public boolean add(long gpa, ByteBuffer page) {
        if (size >= addresses.length) {
            return false;
        }
        boolean isZero = ZeroPages.isZero(page);
        addresses[size] = gpa;
        zero[size++] = isZero;
        if (!isZero) {
            ByteBuffer p = page.duplicate();
            p.limit(p.position() + ZeroPages.PAGE_SIZE);
            fullPages.add(p.slice());
        }
        return true;
    }

    public int size() {
        return size;
    }

    public int zeroPages() {
        return size - fullPages.size();
    }

    /** The buffers of the payload, in order: the table, then each full page (views, not copies). */
    public ByteBuffer[] encode() {
        ByteBuffer table = ByteBuffer.allocate(4 + ENTRY_SIZE * size);
        table.putInt(size);
        for (int i = 0; i < size; i++) {
            table.putLong(addresses[i]).put((byte) (zero[i] ? KIND_ZERO : KIND_FULL));
        }
        table.flip();
        ByteBuffer[] out = new ByteBuffer[1 + fullPages.size()];
        out[0] = table;
        for (int i = 0; i < fullPages.size(); i++) {
            out[i + 1] = fullPages.get(i).duplicate();
        }
        return out;
    }

    /** Writes a run of {@code pages} full pages (none: nothing) and returns the data offset after it. */
    private static int writeRun(PageSink sink, long gpa, ByteBuffer data, int offset, int pages) {
        if (pages > 0) {
            sink.writeRun(gpa, data.slice(offset, pages * ZeroPages.PAGE_SIZE));
        }
        return offset + pages * ZeroPages.PAGE_SIZE;
    }

    /**
     * Checks a received payload completely (count, alignment, RAM, kinds, length), then applies
     * it to {@code sink}. Nothing is written if any check fails.
     *
     * @return the number of pages applied
     */
    public static int apply(ByteBuffer payload, PageSink sink) throws PageBatchException {
        ByteBuffer p = payload.duplicate();
        if (p.remaining() < 4) {
            throw new PageBatchException("RAM batch shorter than its page count");
        }
        long count = Integer.toUnsignedLong(p.getInt());
        if (count > MAX_PAGES) {
            throw new PageBatchException("RAM batch claims " + count + " pages, more than " + MAX_PAGES);
        }
        if (p.remaining() < count * ENTRY_SIZE) {
            throw new PageBatchException("RAM batch table is truncated");
        }
        long full = 0;
        int tableStart = p.position();
        for (int i = 0; i < count; i++) {
            long gpa = p.getLong();
            int kind = p.get();
            if (gpa % ZeroPages.PAGE_SIZE != 0) {
                throw new PageBatchException(String.format("RAM batch entry %d: address 0x%x is not page-aligned", i, gpa));
            }
            if (!sink.isRam(gpa)) {
                throw new PageBatchException(String.format("RAM batch entry %d: 0x%x is not guest RAM", i, gpa));
            }
            if (kind == KIND_FULL) {
                full++;
            } else if (kind != KIND_ZERO) {
                throw new PageBatchException("RAM batch entry " + i + ": unknown page kind " + kind);
            }
        }
        if (p.remaining() != full * ZeroPages.PAGE_SIZE) {
            throw new PageBatchException("RAM batch carries " + p.remaining() + " bytes of page data for "
                    + full + " full pages");
        }
        ByteBuffer table = payload.duplicate().position(tableStart);
        ByteBuffer data = p.slice();
        // Full pages at consecutive addresses are consecutive in the data too: hand them to
        // the sink as one run.
        long runStart = 0;
        int runPages = 0;
        int dataOffset = 0;
        for (int i = 0; i < count; i++) {
            long gpa = table.getLong();
            if (table.get() == KIND_FULL) {
                if (runPages > 0 && gpa != runStart + (long) runPages * ZeroPages.PAGE_SIZE) {
                    dataOffset = writeRun(sink, runStart, data, dataOffset, runPages);
                    runPages = 0;
                }
                if (runPages == 0) {
                    runStart = gpa;
                }
                runPages++;
            } else {
                // Entry order is kept: a zero marker never overtakes earlier data.
                dataOffset = writeRun(sink, runStart, data, dataOffset, runPages);
                runPages = 0;
                sink.zero(gpa);
            }
        }
        writeRun(sink, runStart, data, dataOffset, runPages);
        return (int) count;
    }
}
