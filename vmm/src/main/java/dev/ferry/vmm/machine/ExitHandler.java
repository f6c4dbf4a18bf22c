package dev.ferry.vmm.machine;

import dev.ferry.vmm.device.IoBus;
import dev.ferry.vmm.device.PageStateChannel;
import dev.ferry.vmm.hypervisor.VcpuExit;

/**
 * Turns a vCPU exit into device accesses and an {@link ExitAction}: a plain function of the
 * exit, so it is unit-tested with synthetic exits (no KVM needed). Allocation-free for IO and
 * MMIO, the hot exits.
 */
public final class ExitHandler {

    /** KVM_HC_MAP_GPA_RANGE (Documentation/virt/kvm/x86/hypercalls.rst, hypercall 12). */
    public static final long KVM_HC_MAP_GPA_RANGE = 12;
    /** include/uapi/linux/kvm_para.h: KVM_ENOSYS for an unknown hypercall, EINVAL for bad args. */
    static final long KVM_ENOSYS = 1000;
    static final long EINVAL = 22;
    /** KVM_SYSTEM_EVENT_* (api.rst, 5. The kvm_run structure). */
    static final int SYSTEM_EVENT_SHUTDOWN = 1;
    static final int SYSTEM_EVENT_RESET = 2;
    static final int SYSTEM_EVENT_CRASH = 3;
    /** KVM_INTERNAL_ERROR_EMULATION. */
    static final int INTERNAL_ERROR_EMULATION = 1;

    static {
        // Every kind of exit is loaded with the machine, not at the first instanceof that names
        // it: a guest that had only made port I/O exits loaded MmioWrite and MmioRead at its
        // first Interrupted exit, which is a migration's freeze (-Xlog:class+load: 35-50 us
        // each on kvm-pvm, inside the downtime, and once 1.3 ms apart).
        for (Class<?> kind : VcpuExit.class.getPermittedSubclasses()) {
            try {
                Class.forName(kind.getName(), true, kind.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException(e);      // it was just named by its sealed parent
            }
        }
    }

    private final IoBus ports;
    private final IoBus mmio;
    private final PageStateChannel pageStates;

    public ExitHandler(IoBus ports, IoBus mmio, PageStateChannel pageStates) {
        this.ports = ports;
        this.mmio = mmio;
        this.pageStates = pageStates;
    }

    public ExitAction handle(int vcpuId, VcpuExit exit) {
        if (exit instanceof VcpuExit.IoOut io) {
            ports.write(io.port(), io.size(), io.count(), io.data());
            return ExitAction.CONTINUE;
        }
        if (exit instanceof VcpuExit.IoIn io) {
            ports.read(io.port(), io.size(), io.count(), io.data());
            return ExitAction.CONTINUE;
        }
        if (exit instanceof VcpuExit.MmioWrite m) {
            mmio.write(m.address(), m.length(), 1, m.data());
            return ExitAction.CONTINUE;
        }
        if (exit instanceof VcpuExit.MmioRead m) {
            mmio.read(m.address(), m.length(), 1, m.data());
            return ExitAction.CONTINUE;
        }
        if (exit instanceof VcpuExit.Interrupted) {
            return ExitAction.INTERRUPTED;
        }
        if (exit instanceof VcpuExit.Hlt) {
            return ExitAction.HALTED;
        }
        if (exit instanceof VcpuExit.Hypercall h) {
            h.result().putLong(0, hypercall(h.nr(), h.args()));
            return ExitAction.CONTINUE;
        }
        if (exit instanceof VcpuExit.Shutdown) {
            return new ExitAction.GuestShutdown("vCPU " + vcpuId + " shut down (triple fault)");
        }
        if (exit instanceof VcpuExit.SystemEvent e) {
            return switch (e.type()) {
                case SYSTEM_EVENT_RESET -> new ExitAction.SystemEvent("guest-reset", true);
                case SYSTEM_EVENT_SHUTDOWN -> new ExitAction.SystemEvent("guest-shutdown", false);
                case SYSTEM_EVENT_CRASH -> new ExitAction.Fatal("vCPU " + vcpuId + ": guest crashed (system event)");
                default -> new ExitAction.Fatal("vCPU " + vcpuId + ": unknown system event " + e.type());
            };
        }
        if (exit instanceof VcpuExit.InternalError e) {
            String what = e.suberror() == INTERNAL_ERROR_EMULATION ? "instruction emulation failed"
                    : "internal error, suberror " + e.suberror();
            return new ExitAction.Fatal("vCPU " + vcpuId + ": KVM " + what);
        }
        if (exit instanceof VcpuExit.FailEntry f) {
            return new ExitAction.Fatal(String.format("vCPU %d: KVM could not enter the guest (hardware reason 0x%x)",
                    vcpuId, f.hardwareReason()));
        }
        if (exit instanceof VcpuExit.Unknown u) {
            return new ExitAction.Fatal("vCPU " + vcpuId + ": unhandled KVM exit reason " + u.reason());
        }
        throw new IllegalStateException("unhandled exit " + exit);
    }

    /** The return value (RAX) of a KVM_EXIT_HYPERCALL, as the guest will see it. */
    long hypercall(long nr, long[] args) {
        if (nr != KVM_HC_MAP_GPA_RANGE) {
            return -KVM_ENOSYS;
        }
        // Attribute bits 0-3 give the page size (0 = 4K, 1 = 2M, 2 = 1G); bit 4 is "encrypted".
        long pageSize = args[2] & 0xF;
        if (pageSize > 2) {
            return -EINVAL;
        }
        int status = pageStates.apply(args[0], args[1], args[2] & ~0xFL);
        return status == PageStateChannel.STATUS_OK ? 0 : -EINVAL;
    }
}
