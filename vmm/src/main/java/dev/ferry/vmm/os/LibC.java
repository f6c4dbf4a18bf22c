package dev.ferry.vmm.os;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * The few glibc functions Ferry calls, bound with JNA direct mapping ({@link Native#register}):
 * a direct-mapped call with primitive arguments skips JNA's reflective dispatch, which matters for
 * {@code ioctl(vcpu, KVM_RUN, 0)}, called once per guest exit.
 *
 * <p>These are the raw calls: they return -1 (or {@link #MAP_FAILED}) and leave the error in
 * {@link #errno()}. Callers turn that into an exception naming the call ({@link NativeException}
 * here, {@code HypervisorException} in the KVM backend). Addresses and sizes are {@code long}s,
 * flags are the Linux values (identical on x86-64 and arm64 for the ones defined here).
 */
public final class LibC {

    static {
        Native.register(LibC.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
    }

    // open(2)
    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    public static final int O_CLOEXEC = 0x80000;

    // mmap(2)
    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final long MAP_FAILED = -1L;

    // memfd_create(2)
    public static final int MFD_CLOEXEC = 1;
    public static final int MFD_ALLOW_SEALING = 2;

    // fallocate(2)
    public static final int FALLOC_FL_KEEP_SIZE = 1;
    public static final int FALLOC_FL_PUNCH_HOLE = 2;

    // madvise(2)
    public static final int MADV_DONTNEED = 4;
    public static final int MADV_REMOVE = 9;
    public static final int MADV_DONTFORK = 10;
    public static final int MADV_HUGEPAGE = 14;
    /** Linux 5.14: fault the range in writable now, without writing to it. */
    public static final int MADV_POPULATE_WRITE = 23;

    // pthread_sigmask(3)
    public static final int SIG_BLOCK = 0;
    public static final int SIG_UNBLOCK = 1;
    public static final int SIG_SETMASK = 2;

    // sigaction(2)
    public static final int SA_RESTART = 0x10000000;

    private LibC() {}

    /** The errno of the calling thread's last call through this class (JNA saves it per call). */
    public static int errno() {
        return Native.getLastError();
    }

    public static native int open(String path, int flags, int mode);

    public static native int close(int fd);

    /** ioctl with an integer argument (or none: pass 0). */
    public static native int ioctl(int fd, long request, long arg);

    /** ioctl with a pointer argument (a struct the kernel reads and/or writes). */
    public static native int ioctl(int fd, long request, Pointer arg);

    /** Returns the mapping's address, or {@link #MAP_FAILED}. */
    public static native long mmap(long addr, long length, int prot, int flags, int fd, long offset);

    public static native int munmap(long addr, long length);

    public static native int memfd_create(String name, int flags);

    public static native int ftruncate(int fd, long length);

    public static final int SEEK_DATA = 3;
    public static final int SEEK_HOLE = 4;

    public static native long lseek(int fd, long offset, int whence);

    public static native int fallocate(int fd, int mode, long offset, long length);

    public static native int madvise(long addr, long length, int advice);

    public static native long pwrite(int fd, Pointer buf, long count, long offset);

    public static native int getpid();

    public static native int setpriority(int which, int who, int prio);

    /** {@code param} is struct sched_param: one int, the static priority (0 for SCHED_OTHER/IDLE). */
    public static native int sched_setscheduler(int pid, int policy, int[] param);

    /** The policy of thread {@code pid} (SCHED_*), or -1 with errno set. */
    public static native int sched_getscheduler(int pid);

    /** syscall(2) with no arguments besides the number (e.g. gettid). */
    public static native long syscall(long number);

    public static native int tgkill(int tgid, int tid, int sig);

    /** {@code act} and {@code oldact} point to glibc's struct sigaction (see {@link VcpuKick}). */
    public static native int sigaction(int signum, Pointer act, Pointer oldact);

    public static native int pthread_sigmask(int how, Pointer set, Pointer oldset);

    public static native int sigemptyset(Pointer set);

    public static native int sigaddset(Pointer set, int signum);

    public static native int sigismember(Pointer set, int signum);

    /** glibc's SIGRTMIN: the first real-time signal not reserved by glibc itself (34 today). */
    public static native int __libc_current_sigrtmin();

    public static native int __libc_current_sigrtmax();

    public static native String strerror(int errnum);
}
