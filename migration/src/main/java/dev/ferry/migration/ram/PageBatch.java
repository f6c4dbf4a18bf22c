package dev.ferry.migration.ram;

import dev.ferry.migration.stream.StagedPayload;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The payload of a RAM record (docs/migration-stream.md): a batch of pages, each a zero marker or
 * a full page.
 *
 * <pre>
 * payload := count u32 | count × (gpa u64 | kind u8) | the full pages' bytes, in entry order
 * kind    := 0 zero page | 1 full page
 * </pre>
 * The writer side records where each full page lies in guest memory (a shared buffer and an
 * offset, no object per page) and copies the pages into the stream writer's staging buffer;
 * the reader checks the batch as hostile input before touching guest memory.
 */
public final class PageBatch implements StagedPayload {

    public static final int KIND_ZERO = 0;
    public static final int KIND_FULL = 1;
    static final int ENTRY_SIZE = 9;
    private static final int PAGE = ZeroPages.PAGE_SIZE;
    /** Pages per batch: 16 MiB record cap / 4 KiB, less the table. */
    public static final int MAX_PAGES = 4000;

    // Primitive arrays and shared buffers: a batch is filled page by page on the migration's
    // hot path, and is reused, so filling and writing it creates no objects.
    private final long[] addresses;
    private final boolean[] zero;
    /** Full page i is at fullOffsets[i] in fullBlocks[i]. */
    private final ByteBuffer[] fullBlocks;
    private final int[] fullOffsets;
    private int size;
    private int full;
    /** A movable view of the block last added from, for the zero test (see {@link #add(long, ByteBuffer, int)}). */
    private ByteBuffer cursorBlock;
    private ByteBuffer cursor;

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
        fullBlocks = new ByteBuffer[capacity];
        fullOffsets = new int[capacity];
    }

    public int capacity() {
        return addresses.length;
    }

    /** Empties the batch for reuse, once it has been written. */
    public void clear() {
        size = 0;
        Arrays.fill(fullBlocks, 0, full, null);    // do not keep guest memory reachable
        full = 0;
    }

    /** Makes this batch a copy of {@code other}'s entries (a queue hands batches to another thread). */
    public void copyFrom(PageBatch other) {
        if (other.size > capacity()) {
            throw new IllegalArgumentException("batch of " + other.size + " pages into one of " + capacity());
        }
        clear();
        System.arraycopy(other.addresses, 0, addresses, 0, other.size);
        System.arraycopy(other.zero, 0, zero, 0, other.size);
        System.arraycopy(other.fullBlocks, 0, fullBlocks, 0, other.full);
        System.arraycopy(other.fullOffsets, 0, fullOffsets, 0, other.full);
        size = other.size;
        full = other.full;
    }

    /** Adds a page: {@code page} (4096 bytes from its position) is sent as zero marker if it is all zero. */
    public boolean add(long gpa, ByteBuffer page) {
        return add(gpa, page, page.position());
    }

    /**
     * Adds the page at {@code offset} in {@code block}, a buffer shared with other pages and
     * not moved: it is read with absolute offsets, and tested for zero through a private view
     * of it ({@link ByteBuffer#mismatch} compiles to the JDK's vectorised mismatch).
     */
    public boolean add(long gpa, ByteBuffer block, int offset) {
        if (size >= addresses.length) {
            return false;
        }
        if (block != cursorBlock) {
            cursorBlock = block;
            cursor = block.duplicate();
        }
        cursor.limit(offset + PAGE).position(offset);
        boolean isZero = ZeroPages.isZeroView(cursor);
        addresses[size] = gpa;
        zero[size++] = isZero;
        if (!isZero) {
            fullBlocks[full] = block;
            fullOffsets[full++] = offset;
        }
        return true;
    }

    public int size() {
        return size;
    }

    public int zeroPages() {
        return size - full;
    }

    @Override
    public int length() {
        return 4 + ENTRY_SIZE * size + full * PAGE;
    }

    /** The table, then each full page copied from guest memory (absolute bulk puts: no views). */
    @Override
    public void stageInto(ByteBuffer staging) {
        staging.putInt(size);
        for (int i = 0; i < size; i++) {
            staging.putLong(addresses[i]).put((byte) (zero[i] ? KIND_ZERO : KIND_FULL));
        }
        for (int i = 0; i < full; i++) {
            int at = staging.position();
            staging.put(at, fullBlocks[i], fullOffsets[i], PAGE);
            staging.position(at + PAGE);
        }
    }

    /** The buffers of the payload, in order: the table, then each full page (views, not copies). */
    public ByteBuffer[] encode() {
        ByteBuffer table = ByteBuffer.allocate(4 + ENTRY_SIZE * size);
        table.putInt(size);
        for (int i = 0; i < size; i++) {
            table.putLong(addresses[i]).put((byte) (zero[i] ? KIND_ZERO : KIND_FULL));
        }
        table.flip();
        ByteBuffer[] out = new ByteBuffer[1 + full];
        out[0] = table;
        for (int i = 0; i < full; i++) {
            out[i + 1] = fullBlocks[i].slice(fullOffsets[i], PAGE);
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
