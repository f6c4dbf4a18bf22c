package dev.ferry.vmm.hypervisor.kvm;

import dev.ferry.vmm.hypervisor.VcpuExit;

import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The vCPU's shared {@code struct kvm_run} (include/uapi/linux/kvm.h), read in place through a
 * little-endian buffer over the mmap of the vCPU fd, and the decoding of an exit into a
 * {@link VcpuExit}.
 *
 * <p>Decoding reads fields with absolute gets and hands out data views that are created once and
 * reset per exit, so the only allocation per ordinary exit is the small exit record itself.
 * Views are valid until the next KVM_RUN, as {@link VcpuExit} documents.
 */
final class KvmRun {
    // Offsets in struct kvm_run (x86-64), checked against the C compiler by KvmAbiTest.
    static final int REQUEST_INTERRUPT_WINDOW = 0;
    static final int IMMEDIATE_EXIT = 1;
    static final int EXIT_REASON = 8;
    static final int READY_FOR_INTERRUPT_INJECTION = 12;
    static final int IF_FLAG = 13;
    static final int FLAGS = 14;
    static final int CR8 = 16;
    static final int APIC_BASE = 24;
    /** Start of the exit-specific union. */
    static final int EXIT_UNION = 32;

    static final int FAIL_ENTRY_HARDWARE_ENTRY_FAILURE_REASON = EXIT_UNION;
    static final int FAIL_ENTRY_CPU = EXIT_UNION + 8;

    static final int IO_DIRECTION = EXIT_UNION;
    static final int IO_SIZE = EXIT_UNION + 1;
    static final int IO_PORT = EXIT_UNION + 2;
    static final int IO_COUNT = EXIT_UNION + 4;
    /** Offset of the data from the start of kvm_run (a __u64 in C). */
    static final int IO_DATA_OFFSET = EXIT_UNION + 8;

    static final int MMIO_PHYS_ADDR = EXIT_UNION;
    static final int MMIO_DATA = EXIT_UNION + 8;
    static final int MMIO_LEN = EXIT_UNION + 16;
    static final int MMIO_IS_WRITE = EXIT_UNION + 20;
    static final int MMIO_DATA_SIZE = 8;

    static final int HYPERCALL_NR = EXIT_UNION;
    static final int HYPERCALL_ARGS = EXIT_UNION + 8;
    static final int HYPERCALL_ARG_COUNT = 6;
    static final int HYPERCALL_RET = EXIT_UNION + 56;
    static final int HYPERCALL_LONGMODE = EXIT_UNION + 64;

    static final int INTERNAL_SUBERROR = EXIT_UNION;
    static final int INTERNAL_NDATA = EXIT_UNION + 4;
    static final int INTERNAL_DATA = EXIT_UNION + 8;

    static final int SYSTEM_EVENT_TYPE = EXIT_UNION;
    static final int SYSTEM_EVENT_NDATA = EXIT_UNION + 4;
    static final int SYSTEM_EVENT_DATA = EXIT_UNION + 8;

    /** sizeof(struct kvm_run) in the UAPI header; the mapping is larger (it includes the PIO page). */
    static final int STRUCT_SIZE = 2352;

    // Exit reasons (KVM_EXIT_*).
    static final int KVM_EXIT_UNKNOWN = 0;
    static final int KVM_EXIT_EXCEPTION = 1;
    static final int KVM_EXIT_IO = 2;
    static final int KVM_EXIT_HYPERCALL = 3;
    static final int KVM_EXIT_DEBUG = 4;
    static final int KVM_EXIT_HLT = 5;
    static final int KVM_EXIT_MMIO = 6;
    static final int KVM_EXIT_IRQ_WINDOW_OPEN = 7;
    static final int KVM_EXIT_SHUTDOWN = 8;
    static final int KVM_EXIT_FAIL_ENTRY = 9;
    static final int KVM_EXIT_INTR = 10;
    static final int KVM_EXIT_INTERNAL_ERROR = 17;
    static final int KVM_EXIT_SYSTEM_EVENT = 24;

    static final int KVM_EXIT_IO_IN = 0;
    static final int KVM_EXIT_IO_OUT = 1;

    // Exits without data are immutable and shared.
    static final VcpuExit.Hlt HLT = new VcpuExit.Hlt();
    static final VcpuExit.Shutdown SHUTDOWN = new VcpuExit.Shutdown();
    static final VcpuExit.Interrupted INTERRUPTED = new VcpuExit.Interrupted();

    /** Port I/O views are cached for lengths up to this (a single in/out of 1, 2 or 4 bytes). */
    private static final int CACHED_IO_LENGTHS = 8;

    private final ByteBuffer run;
    private final ByteBuffer[] mmioData = new ByteBuffer[MMIO_DATA_SIZE + 1];
    private final ByteBuffer hypercallRet;
    private final ByteBuffer[] ioData = new ByteBuffer[CACHED_IO_LENGTHS + 1];
    private long ioDataOffset = -1;

    /** {@code mapping} covers the whole mmap of the vCPU fd (KVM_GET_VCPU_MMAP_SIZE bytes). */
    KvmRun(ByteBuffer mapping) {
        if (mapping.capacity() < STRUCT_SIZE) {
            throw new IllegalArgumentException("kvm_run mapping of " + mapping.capacity() + " bytes is smaller than "
                    + "struct kvm_run (" + STRUCT_SIZE + ")");
        }
        this.run = mapping.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN);
        for (int length = 1; length <= MMIO_DATA_SIZE; length++) {
            mmioData[length] = view(MMIO_DATA, length);
        }
        hypercallRet = view(HYPERCALL_RET, Long.BYTES);
    }

    int exitReason() {
        return run.getInt(EXIT_REASON);
    }

    /**
     * Sets {@code immediate_exit}: while it is 1, KVM_RUN returns EINTR at once instead of
     * entering the guest (api.rst, "immediate_exit"). The fence orders the store before a
     * following tgkill, so a vCPU thread that is kicked also sees the flag.
     */
    void setImmediateExit(boolean value) {
        run.put(IMMEDIATE_EXIT, (byte) (value ? 1 : 0));
        VarHandle.fullFence();
    }

    boolean immediateExit() {
        return run.get(IMMEDIATE_EXIT) != 0;
    }

    /** Decodes the exit after KVM_RUN returned 0. */
    VcpuExit decode() {
        int reason = run.getInt(EXIT_REASON);
        switch (reason) {
            case KVM_EXIT_IO: {
                int size = run.get(IO_SIZE) & 0xff;
                int port = run.getShort(IO_PORT) & 0xffff;
                int count = run.getInt(IO_COUNT);
                ByteBuffer data = ioData(run.getLong(IO_DATA_OFFSET), size * count);
                return run.get(IO_DIRECTION) == KVM_EXIT_IO_OUT
                        ? new VcpuExit.IoOut(port, size, count, data)
                        : new VcpuExit.IoIn(port, size, count, data);
            }
            case KVM_EXIT_MMIO: {
                long address = run.getLong(MMIO_PHYS_ADDR);
                int length = run.getInt(MMIO_LEN);
                if (length < 1 || length > MMIO_DATA_SIZE) {
                    throw new IllegalStateException("KVM_EXIT_MMIO at 0x" + Long.toHexString(address)
                            + " with length " + length);
                }
                ByteBuffer data = reset(mmioData[length]);
                return run.get(MMIO_IS_WRITE) != 0
                        ? new VcpuExit.MmioWrite(address, length, data)
                        : new VcpuExit.MmioRead(address, length, data);
            }
            case KVM_EXIT_HLT:
                return HLT;
            case KVM_EXIT_SHUTDOWN:
                return SHUTDOWN;
            case KVM_EXIT_INTR:
                return INTERRUPTED;
            case KVM_EXIT_FAIL_ENTRY:
                return new VcpuExit.FailEntry(run.getLong(FAIL_ENTRY_HARDWARE_ENTRY_FAILURE_REASON));
            case KVM_EXIT_INTERNAL_ERROR:
                return new VcpuExit.InternalError(run.getInt(INTERNAL_SUBERROR));
            case KVM_EXIT_SYSTEM_EVENT:
                return new VcpuExit.SystemEvent(run.getInt(SYSTEM_EVENT_TYPE));
            case KVM_EXIT_HYPERCALL: {
                long[] args = new long[HYPERCALL_ARG_COUNT];
                for (int i = 0; i < args.length; i++) {
                    args[i] = run.getLong(HYPERCALL_ARGS + i * Long.BYTES);
                }
                return new VcpuExit.Hypercall(run.getLong(HYPERCALL_NR), args, reset(hypercallRet));
            }
            default:
                return new VcpuExit.Unknown(reason);
        }
    }

    /**
     * The port I/O data at {@code offset}. KVM puts it in a fixed page after kvm_run
     * (KVM_PIO_PAGE_OFFSET on x86), so the offset is constant in practice and the views for the
     * common lengths are built once.
     */
    private ByteBuffer ioData(long offset, int length) {
        if (offset < 0 || length < 0 || offset > run.capacity() - (long) length) {
            throw new IllegalStateException("KVM_EXIT_IO data at offset " + offset + ", length " + length
                    + " lies outside the kvm_run mapping of " + run.capacity() + " bytes");
        }
        if (length > CACHED_IO_LENGTHS) {
            return view((int) offset, length);
        }
        if (offset != ioDataOffset) {
            Arrays.fill(ioData, null);
            ioDataOffset = offset;
        }
        ByteBuffer view = ioData[length];
        if (view == null) {
            view = view((int) offset, length);
            ioData[length] = view;
            return view;
        }
        return reset(view);
    }

    private ByteBuffer view(int offset, int length) {
        return run.slice(offset, length).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Undoes whatever the previous exit's handler did to the view's position, limit and order. */
    private static ByteBuffer reset(ByteBuffer view) {
        view.clear();
        return view.order(ByteOrder.LITTLE_ENDIAN);
    }
}
