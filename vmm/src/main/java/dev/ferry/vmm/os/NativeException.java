package dev.ferry.vmm.os;

/**
 * A C library call failed. The message names the call with its arguments and the errno, e.g.
 * {@code memfd_create("guest-ram", MFD_CLOEXEC) failed: EMFILE (Too many open files)}.
 */
public class NativeException extends RuntimeException {
    private final String call;
    private final int errno;

    public NativeException(String call, int errno) {
        super(call + " failed: " + Errno.describe(errno));
        this.call = call;
        this.errno = errno;
    }

    /** An exception for {@code call} with the calling thread's current {@link LibC#errno()}. */
    public static NativeException lastError(String call) {
        return new NativeException(call, LibC.errno());
    }

    /** The call and its arguments as they appear in the message. */
    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }

    /** The symbolic errno name, e.g. "ENOMEM". */
    public String errnoName() {
        return Errno.name(errno);
    }
}
