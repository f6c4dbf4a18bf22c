package dev.ferry.migration.stream;

/**
 * Constants of the wire format (docs/migration-stream.md). All integers are big-endian.
 *
 * <pre>
 * stream  := header record* END-record
 * header  := magic "FERRYMIG" (8) | major u16 | minor u16 | flags u32
 * record  := type u16 | flags u16 | length u32 | payload[length] | crc32c u32
 * </pre>
 * The CRC32C (Castagnoli, RFC 3720 appendix B.4) covers type, flags, length and payload.
 */
public final class StreamFormat {
    private StreamFormat() {}

    public static final byte[] MAGIC = {'F', 'E', 'R', 'R', 'Y', 'M', 'I', 'G'};
    /**
     * 4: RAM_EXTENTS follows CONFIG (a 3.x reader would refuse it as an unknown type after
     * accepting the header; now it refuses at the header). 3: PAGE_STATE may come as runs of equal words (RecordType.PAGE_STATE_RUNS), and readers
     * refuse record flags they do not know; a 2.x reader would have taken the whole precopy and
     * failed only at PAGE_STATE, in the downtime. 2: VCPU records carry a versioned binary state
     * (format 1 had a JSON section).
     */
    public static final int MAJOR = 4;
    public static final int MINOR = 0;
    public static final int HEADER_SIZE = 16;
    public static final int RECORD_HEADER_SIZE = 8;
    public static final int RECORD_TRAILER_SIZE = 4;
}
