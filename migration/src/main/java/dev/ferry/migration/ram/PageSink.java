package dev.ferry.migration.ram;

import java.nio.ByteBuffer;

/** Where received RAM pages go on the target (the VMM's guest memory). */
public interface PageSink {

    /** Whether {@code [gpa, gpa + 4096)} is guest RAM that may be written. */
    boolean isRam(long gpa);

    /** Writes one full page; {@code page} holds exactly 4096 bytes. */
    void write(long gpa, ByteBuffer page);

    /**
     * Writes {@code pages.remaining() / 4096} full pages at consecutive addresses from
     * {@code gpa}, each already checked with {@link #isRam}. A first pass sends long runs of
     * consecutive pages; a sink can write a run in one operation instead of page by page.
     */
    default void writeRun(long gpa, ByteBuffer pages) {
        for (int off = 0; off < pages.remaining(); off += ZeroPages.PAGE_SIZE) {
            write(gpa + off, pages.slice(pages.position() + off, ZeroPages.PAGE_SIZE));
        }
    }

    /** Sets one page to zero. */
    void zero(long gpa);
}
