package dev.ferry.vmm.os;

import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * Forces a thread out of a blocking {@code ioctl(KVM_RUN)} by sending it a signal.
 *
 * <p>KVM returns from KVM_RUN with EINTR when a signal is pending for the vCPU thread
 * (Documentation/virt/kvm/api.rst, "KVM_RUN" and "immediate_exit"). The signal must not be
 * ignored (an ignored signal is discarded before it is pending) and must not run Java: a signal
 * handler interrupts arbitrary code, and the JVM cannot run Java code from a signal context. So
 * the handler is the address of glibc's {@code getpid}: an async-signal-safe function that takes
 * no argument (the signal number passed in a register is ignored) and has no effect. The signal's
 * only purpose is to make the kernel leave KVM_RUN; the VMM learns why from its own state (the
 * vCPU's {@code immediate_exit} flag), never from the handler.
 *
 * <p>The signal is glibc's SIGRTMIN (SIGRTMIN+{@value #SIGRTMIN_OFFSET}), as Firecracker and Cloud
 * Hypervisor do for the same purpose: HotSpot uses no real-time signal (it handles SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGTRAP, SIGQUIT, SIGUSR2, SIGPIPE, SIGXFSZ and the shutdown signals) and glibc
 * keeps the two below SIGRTMIN for itself. If another library already installed a handler for it, installation fails
 * loudly instead of stealing it.
 *
 * <p>The handler is installed with SA_RESTART. That does not weaken the kick: KVM_RUN fails with
 * -EINTR, which the kernel never restarts (only the -ERESTART* codes are), so KVM_RUN still
 * returns. What SA_RESTART buys is that a kick arriving while the vCPU thread runs Java or other
 * native code (e.g. a device model writing to a file) is harmless: restartable system calls are
 * resumed transparently, as for the JVM's own signals, which also use SA_RESTART. A late kick is
 * therefore a no-op, and a kick that arrives before KVM_RUN is caught by immediate_exit. Calls
 * that the kernel never restarts (epoll_wait, nanosleep, poll, ...) can still return EINTR, as
 * they can for any signal; the JDK retries those itself.
 */
public final class VcpuKick {
    /** Offset of the kick signal from glibc's SIGRTMIN. */
    static final int SIGRTMIN_OFFSET = 0;

    // glibc's struct sigaction on Linux (sysdeps/unix/sysv/linux/bits/sigaction.h): sa_handler,
    // sa_mask (a 1024-bit sigset_t), int sa_flags, sa_restorer. glibc's sigaction() fills in
    // sa_restorer itself.
    static final int SA_HANDLER_OFFSET = 0;
    static final int SA_MASK_OFFSET = 8;
    static final int SA_FLAGS_OFFSET = 136;
    static final int SIGACTION_SIZE = 152;
    static final int SIGSET_SIZE = 128;

    private static final long SIG_DFL = 0;

    private static int kickSignal;
    private static long handlerAddress;

    private final int processId;
    private final int threadId;
    private final int signal;

    private VcpuKick(int processId, int threadId, int signal) {
        this.processId = processId;
        this.threadId = threadId;
        this.signal = signal;
    }

    /**
     * Prepares the calling thread to be kicked: installs the process-wide handler if this is the
     * first call, unblocks the signal in this thread, and records its thread id.
     */
    public static VcpuKick bindCurrentThread() {
        int sig = signal();
        Memory set = new Memory(SIGSET_SIZE);
        LibC.sigemptyset(set);
        LibC.sigaddset(set, sig);
        // Threads inherit their creator's mask; make sure nobody up the chain blocked the kick.
        int rc = LibC.pthread_sigmask(LibC.SIG_UNBLOCK, set, null);
        if (rc != 0) {
            // pthread_sigmask returns the error number instead of setting errno.
            throw new NativeException("pthread_sigmask(SIG_UNBLOCK, {" + sig + "})", rc);
        }
        return new VcpuKick(Threads.processId(), Threads.currentTid(), sig);
    }

    /** The kick signal's number; installs the handler on first use. */
    public static synchronized int signal() {
        if (kickSignal == 0) {
            install();
        }
        return kickSignal;
    }

    /** The address used as the signal handler (glibc's getpid); 0 before installation. */
    static synchronized long handlerAddress() {
        return handlerAddress;
    }

    private static void install() {
        int sig = LibC.__libc_current_sigrtmin() + SIGRTMIN_OFFSET;
        if (sig > LibC.__libc_current_sigrtmax()) {
            throw new IllegalStateException("no real-time signal SIGRTMIN+" + SIGRTMIN_OFFSET + " on this system");
        }
        Function getpid = NativeLibrary.getInstance(Platform.C_LIBRARY_NAME).getFunction("getpid");
        long handler = Pointer.nativeValue(getpid);

        Memory old = new Memory(SIGACTION_SIZE);
        old.clear();
        if (LibC.sigaction(sig, null, old) != 0) {
            throw NativeException.lastError("sigaction(" + sig + ", NULL, &old)");
        }
        long current = old.getLong(SA_HANDLER_OFFSET);
        if (current != SIG_DFL && current != handler) {
            throw new IllegalStateException("signal " + sig + " (SIGRTMIN+" + SIGRTMIN_OFFSET
                    + "), needed to kick vCPU threads out of KVM_RUN, already has a handler at 0x"
                    + Long.toHexString(current));
        }

        Memory act = new Memory(SIGACTION_SIZE);
        act.clear();
        act.setLong(SA_HANDLER_OFFSET, handler);
        LibC.sigemptyset(act.share(SA_MASK_OFFSET, SIGSET_SIZE));
        act.setInt(SA_FLAGS_OFFSET, LibC.SA_RESTART);
        if (LibC.sigaction(sig, act, null) != 0) {
            throw NativeException.lastError("sigaction(" + sig + ", {handler=getpid, SA_RESTART}, NULL)");
        }
        handlerAddress = handler;
        kickSignal = sig;
    }

    /** The kernel thread id of the bound thread. */
    public int tid() {
        return threadId;
    }

    /**
     * Sends the kick signal to the bound thread. A thread that has already exited is not an error:
     * there is nothing left to kick.
     */
    public void kick() {
        if (LibC.tgkill(processId, threadId, signal) != 0) {
            int errno = LibC.errno();
            if (errno != Errno.ESRCH) {
                throw new NativeException("tgkill(" + processId + ", " + threadId + ", " + signal + ")", errno);
            }
        }
    }

    @Override
    public String toString() {
        return "kick of thread " + threadId + " with signal " + signal;
    }
}
