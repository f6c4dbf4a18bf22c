package dev.ferry.migration.ram;

import java.nio.ByteBuffer;

/** Where received RAM pages go on the target (the VMM's guest memory). */
public interface PageSink {

    /** Whether {@code [gpa, gpa + 4096)} is guest RAM that may be written. */
    boolean isRam(long gpa);

    /** Writes one full page; {@code page} holds exactly 4096 bytes. */
    void write(long gpa, ByteBuffer page);

    /** Sets one page to zero. */
    void zero(long gpa);
}
