package dev.ferry.vmm.os;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Flag values against the C headers (printed once by gcc 12.2 on x86-64 Linux from fcntl.h,
 * sys/mman.h, signal.h, linux/falloc.h), and errno capture by the direct-mapped calls.
 */
class LibCTest {

    @Test
    void flagsMatchTheCHeaders() {
        assertEquals(0, LibC.O_RDONLY);
        assertEquals(2, LibC.O_RDWR);
        assertEquals(0x80000, LibC.O_CLOEXEC);
        assertEquals(1, LibC.PROT_READ);
        assertEquals(2, LibC.PROT_WRITE);
        assertEquals(1, LibC.MAP_SHARED);
        assertEquals(2, LibC.MAP_PRIVATE);
        assertEquals(0x20, LibC.MAP_ANONYMOUS);
        assertEquals(0x4000, LibC.MAP_NORESERVE);
        assertEquals(1, LibC.MFD_CLOEXEC);
        assertEquals(2, LibC.MFD_ALLOW_SEALING);
        assertEquals(1, LibC.FALLOC_FL_KEEP_SIZE);
        assertEquals(2, LibC.FALLOC_FL_PUNCH_HOLE);
        assertEquals(4, LibC.MADV_DONTNEED);
        assertEquals(9, LibC.MADV_REMOVE);
        assertEquals(10, LibC.MADV_DONTFORK);
        assertEquals(14, LibC.MADV_HUGEPAGE);
        assertEquals(0, LibC.SIG_BLOCK);
        assertEquals(1, LibC.SIG_UNBLOCK);
        assertEquals(2, LibC.SIG_SETMASK);
        assertEquals(0x10000000, LibC.SA_RESTART);
    }

    @Test
    void failedCallLeavesItsErrno(@TempDir Path dir) {
        assertEquals(-1, LibC.open(dir.resolve("absent").toString(), LibC.O_RDONLY | LibC.O_CLOEXEC, 0));
        assertEquals(Errno.ENOENT, LibC.errno());
        assertEquals(-1, LibC.close(-1));
        assertEquals(Errno.EBADF, LibC.errno());
        assertEquals(-1, LibC.ioctl(-1, 0xae00L, 0L));
        assertEquals(Errno.EBADF, LibC.errno());
    }

    @Test
    void getpidIsThisProcess() {
        assertEquals(ProcessHandle.current().pid(), LibC.getpid());
    }
}
