package dev.ferry.vmm.os;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemfdTest {

    @Test
    void createsANamedFileOfTheRequestedSize() throws Exception {
        try (Memfd memfd = Memfd.create("ferry-memfd-test", 0x10000)) {
            assertEquals(0x10000, memfd.size());
            Path fd = Path.of("/proc/self/fd/" + memfd.fd());
            assertTrue(Files.readSymbolicLink(fd).toString().startsWith("/memfd:ferry-memfd-test"));
            assertEquals(0x10000, Files.size(fd));
        }
    }

    @Test
    void closeIsIdempotentAndTheFdIsThenUnusable() {
        Memfd memfd = Memfd.create("ferry-memfd-test", 4096);
        memfd.close();
        memfd.close();
        assertThrows(IllegalStateException.class, memfd::fd);
    }

    @Test
    void punchedHoleReadsAsZeroThroughExistingMappings() {
        try (Memfd memfd = Memfd.create("ferry-memfd-test", 0x3000); HostMapping mapping = HostMapping.map(memfd)) {
            mapping.buffer(0x1000, 8).putLong(0, -1L);
            mapping.buffer(0x2000, 8).putLong(0, -1L);
            memfd.punchHole(0x1000, 0x1000);
            assertEquals(0, mapping.buffer(0x1000, 8).getLong(0));
            assertEquals(-1L, mapping.buffer(0x2000, 8).getLong(0));
            assertThrows(IndexOutOfBoundsException.class, () -> memfd.punchHole(0x2000, 0x2000));
        }
    }

    @Test
    void adoptsAnOpenFileAtItsSizeAndRefusesADescriptorThatIsNotOpen() {
        try (Memfd memfd = Memfd.create("ferry-memfd-test", 0x5000);
             Memfd adopted = Memfd.adopt(LibC.open("/proc/self/fd/" + memfd.fd(), LibC.O_RDWR, 0))) {
            assertEquals(0x5000, adopted.size());
            assertTrue(adopted.name().startsWith("/memfd:ferry-memfd-test"), adopted.name());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Memfd.adopt(999_999));
        assertTrue(e.getMessage().startsWith("fd 999999 is not an open file"), e.getMessage());
    }

    @Test
    void invalidSizeIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> Memfd.create("ferry-memfd-test", 0));
    }
}
