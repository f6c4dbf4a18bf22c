package dev.ferry.migration.ram;

import java.nio.ByteBuffer;

/** Guest RAM as the precopy engine sees it: pages numbered 0..count-1, each at an address. */
public interface GuestPages {

    long pageCount();

    /** Guest-physical address of page {@code index}. */
    long address(long index);

    /**
     * A buffer over the memory that holds page {@code index}, shared by many pages and used with
     * absolute offsets only (its position and limit are not the page's). The engine asks for
     * every page it sends, so this must not create an object per page: a new buffer view per
     * page made the source allocate ~110 MB/s during a migration, a young collection (1-3 ms
     * stop of every thread) every ~120 ms.
     */
    ByteBuffer block(long index);

    /** Where page {@code index} starts in {@link #block(long)}. */
    int offsetInBlock(long index);

    /**
     * A view of page {@code index} (4096 bytes from its position, in the block's byte order); no
     * copy, but a new object.
     */
    default ByteBuffer page(long index) {
        ByteBuffer block = block(index);
        return block.slice(offsetInBlock(index), ZeroPages.PAGE_SIZE).order(block.order());
    }

    /**
     * Pages that may hold data (bit i of word i/64), or null if unknown. The others are known
     * to be zero without reading them (never-touched RAM); the first pass does not send them,
     * and the target starts from zeroed RAM.
     */
    default long[] populated() {
        return null;
    }
}
