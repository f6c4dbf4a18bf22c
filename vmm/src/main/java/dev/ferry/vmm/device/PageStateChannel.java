package dev.ferry.vmm.device;

import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.memory.PageStateBitmap;

import java.util.function.Consumer;

/**
 * The port-IO page-state channel (docs/design.md, "The page-state channel"): the guest's ring-0 code
 * writes a guest-physical address (+0 low, +4 high), a page count (+8) and then the attributes
 * (+12), which commits the change; reading +12 returns the status of the last commit. Attribute
 * bit 4 means encrypted (private), as KVM_MAP_GPA_RANGE_ENCRYPTED in the KVM_HC_MAP_GPA_RANGE
 * hypercall that SEV guests use for the same purpose.
 */
public final class PageStateChannel implements IoDevice, Persistent<PageStateChannel.State> {

    public static final int PORT_COUNT = 16;

    public static final int GPA_LOW = 0;
    public static final int GPA_HIGH = 4;
    public static final int PAGE_COUNT = 8;
    public static final int ATTRIBUTES = 12;

    /** KVM_MAP_GPA_RANGE_ENCRYPTED (include/uapi/linux/kvm_para.h). */
    public static final long ATTR_ENCRYPTED = 1L << 4;

    public static final int STATUS_OK = 0;
    public static final int STATUS_BAD_RANGE = 1;
    public static final int STATUS_BAD_ATTRIBUTES = 2;

    private final PageStateBitmap bitmap;
    private final MemoryLayout layout;
    private final Consumer<String> log;
    private long gpa;
    private long count;
    private int status = STATUS_OK;

    public PageStateChannel(PageStateBitmap bitmap, MemoryLayout layout, Consumer<String> log) {
        this.bitmap = bitmap;
        this.layout = layout;
        this.log = log;
    }

    @Override
    public synchronized long read(long offset, int size) {
        return switch ((int) offset) {
            case GPA_LOW -> gpa & 0xFFFF_FFFFL;
            case GPA_HIGH -> gpa >>> 32;
            case PAGE_COUNT -> count;
            case ATTRIBUTES -> status;
            default -> 0;
        };
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        long v = value & 0xFFFF_FFFFL;
        switch ((int) offset) {
            case GPA_LOW -> gpa = (gpa & 0xFFFF_FFFF_0000_0000L) | v;
            case GPA_HIGH -> gpa = (gpa & 0xFFFF_FFFFL) | (v << 32);
            case PAGE_COUNT -> count = v;
            case ATTRIBUTES -> status = apply(gpa, count, v);
            default -> { }
        }
    }

    /** The registers a guest may have half-written when it is migrated. */
    public record State(long gpa, long count, int status) {}

    @Override
    public synchronized State state() {
        return new State(gpa, count, status);
    }

    @Override
    public synchronized void restore(State s) {
        gpa = s.gpa();
        count = s.count();
        status = s.status();
    }

    /**
     * Applies a page-state change and returns a status; shared with the hypercall path.
     * Rejected: unaligned addresses, ranges that are not RAM, unknown attribute bits.
     */
    public int apply(long address, long pages, long attributes) {
        if ((attributes & ~ATTR_ENCRYPTED) != 0) {
            log.accept(String.format("page-state change with unknown attributes 0x%x rejected", attributes));
            return STATUS_BAD_ATTRIBUTES;
        }
        long bytes = pages * MemoryLayout.PAGE_SIZE;
        if (address % MemoryLayout.PAGE_SIZE != 0 || pages <= 0 || pages > bitmap.pageCount()
                || layout.rangeOf(address, bytes) == null) {
            log.accept(String.format("page-state change for 0x%x+%d pages rejected: not guest RAM", address, pages));
            return STATUS_BAD_RANGE;
        }
        bitmap.set(address / MemoryLayout.PAGE_SIZE, pages, (attributes & ATTR_ENCRYPTED) == 0);
        return STATUS_OK;
    }
}
