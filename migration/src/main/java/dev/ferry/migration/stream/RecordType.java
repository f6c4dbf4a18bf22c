package dev.ferry.migration.stream;

/**
 * The record types of a Ferry migration stream (docs/migration-stream.md), each with the largest
 * payload a reader accepts for it: a length field above the cap is refused before anything is
 * allocated.
 */
public enum RecordType {
    /** Machine configuration the target checks: RAM size, vCPUs, confidential mode, firmware. */
    CONFIG(1, 64 * 1024),
    /** A batch of RAM pages: zero markers and full pages. */
    RAM(2, 16 * 1024 * 1024),
    /** The end of one pass over RAM (precopy iteration). */
    PASS_END(3, 64),
    /** One vCPU's registers and state. */
    VCPU(4, 1024 * 1024),
    /** One device's versioned state. */
    DEVICE(5, 1024 * 1024),
    /** The page-state (shared/private) bitmap: every word, or runs of equal words (flag RUNS). */
    PAGE_STATE(6, 64 * 1024 * 1024, RecordType.PAGE_STATE_RUNS),
    /** Everything has been sent. */
    END(7, 64),
    /** Return path: the target has loaded the whole stream and takes over the guest. */
    ACK(8, 64),
    /** Return path: the target refuses the stream; the payload is its reason, UTF-8. */
    ERROR(9, 4096),
    /** First record of every channel of a multi-channel (multifd) migration: which one it is. */
    CHANNEL(10, 64),
    /** Main channel, before the switchover: answer APPLIED once everything sent so far is in RAM. */
    SYNC(11, 64),
    /** Return path: every page sent before the SYNC with this pass number has been applied. */
    APPLIED(12, 64),
    /**
     * Reserved: a batch of pages sealed by the migration helper (a confidential guest's private
     * pages). Its payload is specified with the helper's mailbox; a reader of this version
     * refuses the record (see {@link #reserved()}).
     */
    SEALED_PAGES(13, 16 * 1024 * 1024),
    /**
     * Main channel, right after CONFIG (format 4): the extents of pages the first pass will send,
     * so that the target can allocate their memory ahead of the stream (ram.PageExtents).
     */
    RAM_EXTENTS(14, 8 * 1024 * 1024);

    /**
     * PAGE_STATE's flag (format 3): the payload lists runs of equal bitmap words instead of
     * every word. A 4 GiB guest's bitmap is 128 KiB and is sent while the guest is stopped; as
     * runs, a bitmap that is all one value (every page shared, or private) is 20 bytes.
     */
    public static final int PAGE_STATE_RUNS = 1;

    private final int code;
    private final int maxPayload;
    private final int knownFlags;

    RecordType(int code, int maxPayload) {
        this(code, maxPayload, 0);
    }

    RecordType(int code, int maxPayload, int knownFlags) {
        this.code = code;
        this.maxPayload = maxPayload;
        this.knownFlags = knownFlags;
    }

    public int code() {
        return code;
    }

    public int maxPayload() {
        return maxPayload;
    }

    /** The record flags this version understands for the type; a reader refuses any other. */
    public int knownFlags() {
        return knownFlags;
    }

    /** A type whose code is taken but which no stream of this version may carry. */
    public boolean reserved() {
        return this == SEALED_PAGES;
    }

    /** The type with {@code code}, or null for a code this version does not know. */
    public static RecordType of(int code) {
        for (RecordType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        return null;
    }
}
