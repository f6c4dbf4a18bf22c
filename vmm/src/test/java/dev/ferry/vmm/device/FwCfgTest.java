package dev.ferry.vmm.device;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FwCfgTest {

    private static byte[] readItem(FwCfg fw, int key, int length) {
        fw.write(FwCfg.SELECTOR, 2, key);
        byte[] out = new byte[length];
        for (int i = 0; i < length; i++) {
            out[i] = (byte) fw.read(FwCfg.DATA, 1);
        }
        return out;
    }

    @Test
    void signatureAndIdAreQemus() {
        FwCfg fw = FwCfg.builder().build();
        assertEquals("QEMU", new String(readItem(fw, FwCfg.KEY_SIGNATURE, 4), StandardCharsets.US_ASCII));
        assertArrayEquals(new byte[] {1, 0, 0, 0}, readItem(fw, FwCfg.KEY_ID, 4));
    }

    @Test
    void fileDirectoryIsBigEndianAndSortedByName() {
        FwCfg fw = FwCfg.builder()
                .file("opt/zeta", "z".getBytes(StandardCharsets.US_ASCII))
                .file("opt/ferry/cmdline", "mode=selftest".getBytes(StandardCharsets.US_ASCII))
                .build();
        ByteBuffer dir = ByteBuffer.wrap(readItem(fw, FwCfg.KEY_FILE_DIR, 4 + 2 * 64));
        assertEquals(2, dir.getInt());
        assertEquals(13, dir.getInt());
        int select = dir.getShort() & 0xFFFF;
        dir.getShort();
        byte[] name = new byte[56];
        dir.get(name);
        assertEquals("opt/ferry/cmdline", new String(name, StandardCharsets.US_ASCII).replace("\0", ""));
        assertEquals(FwCfg.KEY_FILE_FIRST, select);
        assertEquals("mode=selftest", new String(readItem(fw, select, 13), StandardCharsets.US_ASCII));
        assertEquals(1, dir.getInt());
        assertEquals(FwCfg.KEY_FILE_FIRST + 1, dir.getShort() & 0xFFFF);
    }

    @Test
    void readsPastTheEndAndUnknownKeysGiveZero() {
        FwCfg fw = FwCfg.builder().u16(FwCfg.KEY_NB_CPUS, 2).build();
        assertArrayEquals(new byte[] {2, 0, 0, 0}, readItem(fw, FwCfg.KEY_NB_CPUS, 4));
        assertArrayEquals(new byte[] {0, 0}, readItem(fw, 0x1234, 2));
    }

    @Test
    void reselectingRestartsAtOffsetZeroAndStateRoundTrips() {
        FwCfg fw = FwCfg.builder().build();
        readItem(fw, FwCfg.KEY_SIGNATURE, 2);
        FwCfgState mid = fw.state();
        assertEquals(new FwCfgState(FwCfg.KEY_SIGNATURE, 2), mid);
        FwCfg other = FwCfg.builder().build();
        other.restore(mid);
        assertEquals('M', other.read(FwCfg.DATA, 1));
        assertEquals('Q', readItem(fw, FwCfg.KEY_SIGNATURE, 1)[0]);
    }

    @Test
    void rejectsBadFileNames() {
        assertThrows(IllegalArgumentException.class, () -> FwCfg.builder().file("x".repeat(56), new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> FwCfg.builder().file("a", new byte[0]).file("a", new byte[0]));
    }
}
