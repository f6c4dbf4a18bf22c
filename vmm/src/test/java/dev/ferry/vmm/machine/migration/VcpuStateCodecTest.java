package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.state.StateException;
import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.VcpuState;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The binary vCPU state of VCPU records: exact round trips, and hostile bodies refused. */
class VcpuStateCodecTest {

    private final SplittableRandom random = new SplittableRandom(42);

    @Test
    void everyFieldRoundTrips() throws Exception {
        for (int round = 0; round < 20; round++) {
            VcpuState v = randomState();
            assertEquals(v, VcpuStateCodec.decode(VcpuStateCodec.VERSION, VcpuStateCodec.encode(v)));
        }
    }

    @Test
    void aVcpuWithoutLapicOrXcrsRoundTrips() throws Exception {
        VcpuState v = ScratchMigration.sampleVcpu();
        VcpuState bare = new VcpuState(v.registers(), v.specialRegisters(), v.xsave(), List.of(), new byte[0],
                v.vcpuEvents(), 3, v.debugRegisters(), List.of());
        assertEquals(bare, VcpuStateCodec.decode(VcpuStateCodec.VERSION, VcpuStateCodec.encode(bare)));
    }

    @Test
    void everyTruncationIsRefusedWithoutFailingOtherwise() {
        ByteBuffer full = VcpuStateCodec.encode(randomState());
        for (int length = 0; length < full.remaining(); length += 7) {
            ByteBuffer cut = full.duplicate().limit(length);
            StateException e = assertThrows(StateException.class, () -> VcpuStateCodec.decode(1, cut));
            assertTrue(e.getMessage().startsWith("vCPU state"), e.getMessage());
        }
    }

    @Test
    void trailingBytesAreRefusedFromThisVersionAndIgnoredFromANewerOne() throws Exception {
        VcpuState v = randomState();
        ByteBuffer body = VcpuStateCodec.encode(v);
        ByteBuffer longer = ByteBuffer.allocate(body.remaining() + 5).put(body.duplicate()).put(new byte[5]).flip();
        StateException e = assertThrows(StateException.class, () -> VcpuStateCodec.decode(VcpuStateCodec.VERSION,
                longer));
        assertTrue(e.getMessage().contains("5 bytes after its last field"), e.getMessage());
        assertEquals(v, VcpuStateCodec.decode(VcpuStateCodec.VERSION + 1, longer));
    }

    @Test
    void hugeCountsAndUnknownFlagsAreRefusedBeforeAllocating() {
        ByteBuffer body = VcpuStateCodec.encode(ScratchMigration.sampleVcpu());
        // Offsets in the body: 144 general registers, 8 x 17 segments, 2 x 10 tables, 56 control
        // registers, then the bitmap word count.
        int segmentFlags = 144 + 16;
        int bitmapCount = 144 + 8 * 17 + 20 + 56;
        int xsaveLength = bitmapCount + 1 + 4 * 8;

        ByteBuffer b = copy(body);
        b.put(segmentFlags, (byte) 0x80);
        assertTrue(assertThrows(StateException.class, () -> VcpuStateCodec.decode(1, b)).getMessage()
                .contains("unknown bits"));

        ByteBuffer c = copy(body);
        c.put(bitmapCount, (byte) 5);
        assertTrue(assertThrows(StateException.class, () -> VcpuStateCodec.decode(1, c)).getMessage()
                .contains("5 interrupt bitmap words (at most 4)"));

        ByteBuffer d = copy(body);
        d.putInt(xsaveLength, Integer.MAX_VALUE);
        assertTrue(assertThrows(StateException.class, () -> VcpuStateCodec.decode(1, d)).getMessage()
                .contains("2147483647 bytes of XSAVE area"));

        ByteBuffer e = copy(body);
        e.putInt(xsaveLength, -1);
        assertTrue(assertThrows(StateException.class, () -> VcpuStateCodec.decode(1, e)).getMessage()
                .contains("4294967295 bytes of XSAVE area"));
    }

    private static ByteBuffer copy(ByteBuffer b) {
        return ByteBuffer.allocate(b.remaining()).put(b.duplicate()).flip();
    }

    private VcpuState randomState() {
        Registers.Segment[] s = new Registers.Segment[8];
        for (int i = 0; i < s.length; i++) {
            s[i] = new Registers.Segment(random.nextLong(), random.nextInt(), random.nextInt(0x10000),
                    random.nextInt(256), random.nextBoolean(), random.nextInt(256), random.nextBoolean(),
                    random.nextBoolean(), random.nextBoolean(), random.nextBoolean(), random.nextBoolean(),
                    random.nextBoolean());
        }
        Registers.Special sregs = new Registers.Special(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
                new Registers.DescriptorTable(random.nextLong(), random.nextInt(0x10000)),
                new Registers.DescriptorTable(random.nextLong(), random.nextInt(0x10000)), random.nextLong(),
                random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong(),
                random.nextLong(), new long[] {random.nextLong(), 0, random.nextLong(), 1});
        List<VcpuState.Msr> msrs = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            msrs.add(new VcpuState.Msr(random.nextInt(), random.nextLong()));
        }
        return new VcpuState(new Registers.Standard(random.nextLong(), random.nextLong(), random.nextLong(),
                random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong(),
                random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong(),
                random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong()),
                sregs, bytes(4096 + 64 * random.nextInt(4)), List.of(new VcpuState.Xcr(0, random.nextLong())),
                bytes(1024), bytes(64), random.nextInt(5),
                new VcpuState.DebugRegisters(random.nextLong(), random.nextLong(), random.nextLong(),
                        random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong()), msrs);
    }

    private byte[] bytes(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) random.nextInt();
        }
        return b;
    }
}
