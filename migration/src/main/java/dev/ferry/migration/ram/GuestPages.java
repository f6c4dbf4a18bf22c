package dev.ferry.migration.ram;

import java.nio.ByteBuffer;

/** Guest RAM as the precopy engine sees it: pages numbered 0..count-1, each at an address. */
public interface GuestPages {

    long pageCount();

    /** Guest-physical address of page {@code index}. */
    long address(long index);

    /** A view of page {@code index} (4096 bytes from its position); no copy. */
    ByteBuffer page(long index);

    /**
     * Pages that may hold data (bit i of word i/64), or null if unknown. The others are known
     * to be zero without reading them (never-touched RAM); the first pass does not send them,
     * and the target starts from zeroed RAM.
     */
    default long[] populated() {
        return null;
    }
}
