package dev.ferry.vmm.device;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class IoBusTest {

    private final List<String> log = new ArrayList<>();
    private final IoBus bus = new IoBus("port", log::add);

    private static final class Recorder implements IoDevice {
        long lastOffset = -1;
        long lastValue;
        int lastSize;

        @Override
        public long read(long offset, int size) {
            return 0x1122334455667788L;
        }

        @Override
        public void write(long offset, int size, long value) {
            lastOffset = offset;
            lastSize = size;
            lastValue = value;
        }
    }

    @Test
    void dispatchesByOffsetWithLittleEndianData() {
        Recorder r = new Recorder();
        bus.register(0x600, 16, "rec", r);
        ByteBuffer data = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0xCAFEF00D);
        bus.write(0x604, 4, 1, data);
        assertEquals(4, r.lastOffset);
        assertEquals(4, r.lastSize);
        assertEquals(0xCAFEF00DL, r.lastValue);
        ByteBuffer in = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN);
        bus.read(0x60F, 2, 1, in);
        assertEquals((short) 0x7788, in.getShort(0));
    }

    @Test
    void repeatedStringIoVisitsTheDeviceOncePerItem() {
        List<Long> seen = new ArrayList<>();
        bus.register(0x3F8, 8, "uart", new IoDevice() {
            @Override
            public long read(long offset, int size) {
                return 0;
            }

            @Override
            public void write(long offset, int size, long value) {
                seen.add(value);
            }
        });
        bus.write(0x3F8, 1, 3, ByteBuffer.wrap(new byte[] {'a', 'b', 'c'}));
        assertEquals(List.of((long) 'a', (long) 'b', (long) 'c'), seen);
    }

    @Test
    void unassignedAddressesReadAllOnesAndAreReportedOnce() {
        ByteBuffer in = ByteBuffer.allocate(4);
        bus.read(0x1234, 4, 1, in);
        bus.read(0x1234, 4, 1, in);
        assertEquals(-1, in.getInt(0));
        bus.write(0x1234, 1, 1, ByteBuffer.wrap(new byte[] {5}));
        assertEquals(1, log.size());
        assertNull(bus.deviceAt(0x1234));
    }

    @Test
    void overlappingRangesAreRefused() {
        bus.register(0x510, 2, "fw_cfg", new Recorder());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> bus.register(0x50F, 2, "other", new Recorder()));
        assertEquals("other port range 0x50f-0x510 overlaps fw_cfg at 0x510-0x511", e.getMessage());
        bus.register(0x512, 1, "next", new Recorder());
        assertEquals("next", bus.deviceAt(0x512));
    }

    @Test
    void aGuestScanningTheAddressSpaceGetsABoundedLog() {
        ByteBuffer in = ByteBuffer.allocate(4);
        for (long a = 0; a < 10_000; a++) {
            bus.read(0x1_0000 + a * 4, 4, 1, in);
        }
        assertEquals(IoBus.MAX_REPORTED + 1, log.size());
        assertEquals("further accesses to unassigned port addresses are not reported", log.get(log.size() - 1));
    }
}
