package dev.ferry.vmm.hypervisor.kvm;

import dev.ferry.vmm.hypervisor.HypervisorException;
import dev.ferry.vmm.os.Errno;
import dev.ferry.vmm.os.LibC;

/** How the KVM classes report a failed call: the call, its arguments and errno in one line. */
final class KvmCalls {
    private KvmCalls() {}

    /** {@code call} is the ioctl name with its arguments, e.g. "KVM_CREATE_VCPU(id=3)". */
    static HypervisorException failure(String call, int errno) {
        return new HypervisorException(call + " failed: " + Errno.describe(errno), errno);
    }

    /** A failure with the calling thread's errno from the last {@link LibC} call. */
    static HypervisorException lastError(String call) {
        return failure(call, LibC.errno());
    }

    static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }
}
