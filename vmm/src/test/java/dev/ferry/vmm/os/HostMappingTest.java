package dev.ferry.vmm.os;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HostMappingTest {
    private static final long GIB = 1L << 30;

    @Test
    void twoMappingsOfOneMemfdShareTheirPages() {
        try (Memfd memfd = Memfd.create("ferry-mapping-test", 0x2000);
             HostMapping first = HostMapping.map(memfd);
             HostMapping second = HostMapping.map(memfd)) {
            assertNotEquals(first.address(), second.address());
            assertEquals(0, first.address() % 4096, "page aligned");
            first.buffer(0x1000, 16).putLong(8, 0x0123456789abcdefL);
            assertEquals(0x0123456789abcdefL, second.buffer(0x1008, 8).getLong(0));
        }
    }

    @Test
    void buffersAreLittleEndianViewsOfTheRange() {
        try (Memfd memfd = Memfd.create("ferry-mapping-test", 0x2000); HostMapping mapping = HostMapping.map(memfd)) {
            ByteBuffer view = mapping.buffer(0x10, 4);
            assertEquals(ByteOrder.LITTLE_ENDIAN, view.order());
            assertTrue(view.isDirect());
            assertEquals(4, view.capacity());
            view.putInt(0, 0x04030201);
            assertEquals(1, mapping.buffer(0x10, 1).get(0));
            assertEquals(0, mapping.buffer(0, 0).capacity());
        }
    }

    @Test
    void rangesBeyondTheMappingAreRejected() {
        try (Memfd memfd = Memfd.create("ferry-mapping-test", 0x2000); HostMapping mapping = HostMapping.map(memfd)) {
            assertThrows(IndexOutOfBoundsException.class, () -> mapping.buffer(0x1fff, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> mapping.buffer(-1, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> mapping.buffer(Long.MAX_VALUE, 1));
        }
    }

    @Test
    void viewsReachPastTwoGibibytes() {
        // The memfd is sparse: only the pages touched below take memory.
        try (Memfd memfd = Memfd.create("ferry-mapping-test", 3 * GIB); HostMapping mapping = HostMapping.map(memfd)) {
            assertEquals(3 * GIB, mapping.size());
            long offset = 2 * GIB + GIB / 2;
            mapping.buffer(offset, 4096).putLong(0, 0xfeedfacecafebeefL);
            mapping.buffer(3 * GIB - 8, 8).putLong(0, 42);
            assertEquals(0xfeedfacecafebeefL, mapping.buffer(offset - 4096, 8192).getLong(4096));
            assertEquals(42, mapping.buffer(3 * GIB - 4096, 4096).getLong(4088));
        }
    }

    @Test
    void unmapIsIdempotentAndStopsNewViews() {
        Memfd memfd = Memfd.create("ferry-mapping-test", 0x1000);
        HostMapping mapping = HostMapping.map(memfd);
        mapping.unmap();
        mapping.unmap();
        assertThrows(IllegalStateException.class, () -> mapping.buffer(0, 1));
        memfd.close();
    }

    @Test
    void failedMmapNamesTheCallAndErrno() {
        NativeException e = assertThrows(NativeException.class, () -> HostMapping.map(-1, 0, 4096));
        assertEquals("mmap(size=0x1000, PROT_READ|PROT_WRITE, MAP_SHARED, fd=-1, offset=0x0) failed: "
                + "EBADF (Bad file descriptor)", e.getMessage());
        assertEquals(Errno.EBADF, e.errno());
    }
}
