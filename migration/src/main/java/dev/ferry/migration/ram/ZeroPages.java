package dev.ferry.migration.ram;

import java.nio.ByteBuffer;

/**
 * Zero-page detection. {@link ByteBuffer#mismatch} compiles to the JDK's vectorised mismatch
 * intrinsic (wide SIMD compares), so a zero page costs a few hundred nanoseconds and no copy.
 */
public final class ZeroPages {
    private ZeroPages() {}

    public static final int PAGE_SIZE = 4096;
    private static final ByteBuffer ZERO = ByteBuffer.allocateDirect(PAGE_SIZE).asReadOnlyBuffer();

    /** True if the 4096 bytes from {@code page}'s position are all zero (position untouched). */
    public static boolean isZero(ByteBuffer page) {
        ByteBuffer p = page.duplicate();
        p.limit(p.position() + PAGE_SIZE);
        return isZeroView(p);
    }

    /**
     * True if {@code view}, from its position to its limit (one page), is all zero. Allocates
     * nothing: the zero page is shared and never moved (mismatch only reads its bounds).
     */
    static boolean isZeroView(ByteBuffer view) {
        return view.mismatch(ZERO) == -1;
    }
}
