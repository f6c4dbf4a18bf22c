package dev.ferry.vmm.os;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ErrnoTest {

    @Test
    void namesTheErrorsKvmReturns() {
        assertEquals("EPERM", Errno.name(1));
        assertEquals("ENOENT", Errno.name(2));
        assertEquals("EINTR", Errno.name(4));
        assertEquals("ENXIO", Errno.name(6));
        assertEquals("E2BIG", Errno.name(7));
        assertEquals("EAGAIN", Errno.name(11));
        assertEquals("ENOMEM", Errno.name(12));
        assertEquals("EACCES", Errno.name(13));
        assertEquals("EFAULT", Errno.name(14));
        assertEquals("EBUSY", Errno.name(16));
        assertEquals("EEXIST", Errno.name(17));
        assertEquals("ENODEV", Errno.name(19));
        assertEquals("EINVAL", Errno.name(22));
        assertEquals("ENOTTY", Errno.name(25));
        assertEquals("ENOSYS", Errno.name(38));
        assertEquals("EOPNOTSUPP", Errno.name(95));
        assertEquals("EHWPOISON", Errno.name(133));
        assertEquals("ENOTSUPP", Errno.name(524));
    }

    @Test
    void constantsMatchTheirNames() {
        assertEquals("EINVAL", Errno.name(Errno.EINVAL));
        assertEquals("ENOMEM", Errno.name(Errno.ENOMEM));
        assertEquals("EOPNOTSUPP", Errno.name(Errno.EOPNOTSUPP));
        assertEquals("ENOSYS", Errno.name(Errno.ENOSYS));
        assertEquals("EBADF", Errno.name(Errno.EBADF));
    }

    @Test
    void unknownNumbersStayNumbers() {
        assertEquals("errno 0", Errno.name(0));
        assertEquals("errno 41", Errno.name(41));
        assertEquals("errno 9999", Errno.name(9999));
        assertEquals("errno -1", Errno.name(-1));
    }

    @Test
    void describeAddsTheCLibraryText() {
        assertEquals("EINVAL (Invalid argument)", Errno.describe(22));
        assertEquals("ENOENT (No such file or directory)", Errno.describe(2));
    }

    @Test
    void wholeTableAgreesWithGlibc() {
        Function strerrorname;
        try {
            // glibc >= 2.32.
            strerrorname = NativeLibrary.getInstance(Platform.C_LIBRARY_NAME).getFunction("strerrorname_np");
        } catch (UnsatisfiedLinkError e) {
            Assumptions.abort("this C library has no strerrorname_np");
            return;
        }
        for (int errno = 1; errno <= 133; errno++) {
            String glibc = (String) strerrorname.invoke(String.class, new Object[] {errno});
            assertEquals(glibc == null ? "errno " + errno : glibc, Errno.name(errno), "errno " + errno);
        }
    }

    @Test
    void nativeExceptionNamesCallAndErrno() {
        NativeException e = new NativeException("mmap(size=0x1000, fd=-1)", Errno.EBADF);
        assertEquals("mmap(size=0x1000, fd=-1) failed: EBADF (Bad file descriptor)", e.getMessage());
        assertEquals("mmap(size=0x1000, fd=-1)", e.call());
        assertEquals("EBADF", e.errnoName());
        assertEquals(Errno.EBADF, e.errno());
    }
}
