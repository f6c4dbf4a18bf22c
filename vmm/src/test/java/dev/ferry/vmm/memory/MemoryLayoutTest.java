package dev.ferry.vmm.memory;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class MemoryLayoutTest {

    @Test
    void smallGuestHasOneRangeFromZero() {
        MemoryLayout l = new MemoryLayout(256L << 20);
        assertEquals(List.of(new RamRange(0, 256L << 20, 0)), l.ranges());
        assertEquals(256L << 20, l.ramEnd());
    }

    @Test
    void largeGuestSplitsAroundThePciHole() {
        MemoryLayout l = new MemoryLayout(4L << 30);
        assertEquals(List.of(new RamRange(0, 0xC000_0000L, 0),
                new RamRange(0x1_0000_0000L, (4L << 30) - 0xC000_0000L, 0xC000_0000L)), l.ranges());
        assertEquals(0x1_4000_0000L, l.ramEnd());
        assertNull(l.rangeOf(0xBFFF_F000L, 0x2000), "an access may not straddle the hole");
        assertEquals(1, l.firmwareMap().stream().filter(e -> e.base() == 0x1_0000_0000L).count());
    }

    @Test
    void firmwareMapReservesTheLegacyHole() {
        List<MemoryMapEntry> map = new MemoryLayout(64L << 20).firmwareMap();
        assertEquals(new MemoryMapEntry(0, 0x9FC00, MemoryMapEntry.Type.USABLE), map.get(0));
        assertEquals(MemoryMapEntry.Type.RESERVED, map.get(1).type());
        assertEquals(new MemoryMapEntry(0x100000, (64L << 20) - 0x100000, MemoryMapEntry.Type.USABLE), map.get(2));
    }

    @Test
    void refusesTinyOrUnalignedSizes() {
        assertThrows(IllegalArgumentException.class, () -> new MemoryLayout(8L << 20));
        assertThrows(IllegalArgumentException.class, () -> new MemoryLayout((64L << 20) + 4096));
    }
}
