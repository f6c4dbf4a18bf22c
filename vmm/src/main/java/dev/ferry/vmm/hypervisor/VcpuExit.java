package dev.ferry.vmm.hypervisor;

import java.nio.ByteBuffer;

/**
 * Why {@link Vcpu#run()} returned. Data-carrying exits expose a little-endian view of the
 * hypervisor's shared area: for {@link IoOut}/{@link MmioWrite} it holds what the guest wrote;
 * for {@link IoIn}/{@link MmioRead} the handler writes the value the guest will read. The view is
 * valid until the next {@code run()}.
 */
public sealed interface VcpuExit {

    /** Port input: {@code count} items of {@code size} bytes (count > 1 for rep ins). */
    record IoIn(int port, int size, int count, ByteBuffer data) implements VcpuExit {}

    /** Port output: {@code count} items of {@code size} bytes (count > 1 for rep outs). */
    record IoOut(int port, int size, int count, ByteBuffer data) implements VcpuExit {}

    record MmioRead(long address, int length, ByteBuffer data) implements VcpuExit {}

    record MmioWrite(long address, int length, ByteBuffer data) implements VcpuExit {}

    /** HLT with no in-kernel LAPIC to wait for an interrupt (the helper VM's way of yielding). */
    record Hlt() implements VcpuExit {}

    /** Triple fault or similar: the CPU shut down (KVM_EXIT_SHUTDOWN). */
    record Shutdown() implements VcpuExit {}

    /** KVM_EXIT_HYPERCALL (e.g. KVM_HC_MAP_GPA_RANGE); {@code result} is written back to RAX. */
    record Hypercall(long nr, long[] args, ByteBuffer result) implements VcpuExit {}

    /** The CPU could not enter the guest (KVM_EXIT_FAIL_ENTRY). */
    record FailEntry(long hardwareReason) implements VcpuExit {}

    /** The hypervisor could not emulate something (KVM_EXIT_INTERNAL_ERROR). */
    record InternalError(int suberror) implements VcpuExit {}

    /** KVM_EXIT_SYSTEM_EVENT: shutdown, reset or crash requested through the platform. */
    record SystemEvent(int type) implements VcpuExit {}

    /** {@link Vcpu#requestExit()} took effect (or a signal arrived). */
    record Interrupted() implements VcpuExit {}

    /** An exit reason Ferry does not handle. */
    record Unknown(int reason) implements VcpuExit {}
}
