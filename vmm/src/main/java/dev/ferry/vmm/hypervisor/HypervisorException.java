package dev.ferry.vmm.hypervisor;

/**
 * A hypervisor call failed. The message names the call, its arguments and the errno, e.g.
 * {@code KVM_SET_USER_MEMORY_REGION(slot=1, gpa=0x100000) failed: EINVAL}.
 */
public class HypervisorException extends RuntimeException {
    private final int errno;

    public HypervisorException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    public HypervisorException(String message) {
        this(message, 0);
    }

    /** The errno of the failed call, 0 if none. */
    public int errno() {
        return errno;
    }
}
