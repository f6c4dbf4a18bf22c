package dev.ferry.vmm.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The Multiboot (v1) header of a kernel image (Multiboot spec 0.6.96, section 3.1): a magic, flags
 * and checksum within the first 8192 bytes, 32-bit aligned, and, when flag bit 16 is set, the
 * a.out-kludge load addresses.
 */
public record MultibootHeader(int offset, int flags, long headerAddr, long loadAddr, long loadEndAddr,
                              long bssEndAddr, long entryAddr) {

    public static final int MAGIC = 0x1BADB002;
    static final int SEARCH_LIMIT = 8192;
    /** Bits 0-15 the loader must honour; Ferry supports 0 (page-align) and 1 (memory info). */
    static final int REQUIRED_MASK = 0x0000_FFFF;
    static final int SUPPORTED_REQUIRED = 0b11;
    public static final int FLAG_AOUT_KLUDGE = 1 << 16;
    public static final int FLAG_VIDEO_MODE = 1 << 2;

    /** Finds and validates the header; throws {@link BootException} if there is none. */
    public static MultibootHeader find(byte[] image) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int limit = Math.min(image.length, SEARCH_LIMIT) - 12;
        for (int off = 0; off <= limit; off += 4) {
            if (b.getInt(off) != MAGIC) {
                continue;
            }
            int flags = b.getInt(off + 4);
            int checksum = b.getInt(off + 8);
            if (MAGIC + flags + checksum != 0) {
                continue;
            }
            int unsupported = flags & REQUIRED_MASK & ~SUPPORTED_REQUIRED & ~FLAG_VIDEO_MODE;
            if (unsupported != 0) {
                throw new BootException(String.format(
                        "Multiboot header requires features Ferry does not provide (flags 0x%x)", unsupported));
            }
            if ((flags & FLAG_AOUT_KLUDGE) != 0) {
                if (off + 32 > image.length) {
                    throw new BootException("Multiboot header is truncated");
                }
                return new MultibootHeader(off, flags, u32(b, off + 12), u32(b, off + 16), u32(b, off + 20),
                        u32(b, off + 24), u32(b, off + 28));
            }
            return new MultibootHeader(off, flags, 0, 0, 0, 0, 0);
        }
        throw new BootException("no Multiboot header in the first 8 KiB of the image (only Multiboot kernels "
                + "can be booted with -kernel)");
    }

    public boolean usesAoutKludge() {
        return (flags & FLAG_AOUT_KLUDGE) != 0;
    }

    private static long u32(ByteBuffer b, int at) {
        return Integer.toUnsignedLong(b.getInt(at));
    }
}
