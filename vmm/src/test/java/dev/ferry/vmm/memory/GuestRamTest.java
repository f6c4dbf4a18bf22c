package dev.ferry.vmm.memory;

import dev.ferry.vmm.os.LibC;
import dev.ferry.vmm.os.NativeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** RAM that adopts a memory file made elsewhere instead of creating its own. */
class GuestRamTest {

    private static final long MIB = 1L << 20;

    /** A second descriptor of the same file, as another process would hold after SCM_RIGHTS. */
    private static int reopen(int fd) {
        int copy = LibC.open("/proc/self/fd/" + fd, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        assertTrue(copy >= 0, "reopened fd " + fd);
        return copy;
    }

    private static boolean isOpen(int fd) {
        return Files.exists(Path.of("/proc/self/fd/" + fd));
    }

    @Test
    void adoptsTheMemfdOfAnotherGuestRamAndSeesItsBytes() {
        MemoryLayout layout = new MemoryLayout(16 * MIB);
        try (GuestRam source = GuestRam.create(layout, "ferry-adopt-source")) {
            source.write(0x10_0000, new byte[] {1, 2, 3, 4}, 0, 4);
            try (GuestRam target = GuestRam.adopt(layout, reopen(source.memfd().fd()))) {
                byte[] seen = new byte[4];
                target.read(0x10_0000, seen, 0, 4);
                assertArrayEquals(new byte[] {1, 2, 3, 4}, seen);
                target.writeLong(0x20_0000, 0x5eed);
                assertEquals(0x5eed, source.readLong(0x20_0000), "one memory, two mappings");
                assertTrue(target.memfd().name().startsWith("/memfd:ferry-adopt-source"), target.memfd().name());
            }
        }
    }

    @Test
    void aFileOfTheWrongSizeIsRefusedNamingBothSizes() {
        try (GuestRam other = GuestRam.create(new MemoryLayout(32 * MIB), "ferry-adopt-other")) {
            int fd = reopen(other.memfd().fd());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> GuestRam.adopt(new MemoryLayout(16 * MIB), fd));
            assertTrue(e.getMessage().startsWith("the RAM file /memfd:ferry-adopt-other"), e.getMessage());
            assertTrue(e.getMessage().endsWith(" holds 33554432 bytes (32 MiB) but the machine's RAM is 16777216 bytes"
                    + " (16 MiB)"), e.getMessage());
            assertFalse(isOpen(fd), "the refused descriptor was closed");
        }
    }

    @Test
    void adoptsAFileByPathAndRefusesOneThatDoesNotExist(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("guest-ram");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(16 * MIB);
            f.seek(0x30_0000);
            f.write(new byte[] {9, 8, 7});
        }
        MemoryLayout layout = new MemoryLayout(16 * MIB);
        try (GuestRam ram = GuestRam.adopt(layout, file)) {
            byte[] seen = new byte[3];
            ram.read(0x30_0000, seen, 0, 3);
            assertArrayEquals(new byte[] {9, 8, 7}, seen);
            assertEquals(file.toString(), ram.memfd().name());
        }

        Path missing = dir.resolve("no-such-ram");
        NativeException e = assertThrows(NativeException.class, () -> GuestRam.adopt(layout, missing));
        assertEquals("open(\"" + missing + "\", O_RDWR|O_CLOEXEC) failed: ENOENT (No such file or directory)",
                e.getMessage());
    }
}
