package dev.ferry.vmm.hypervisor.kvm;

import dev.ferry.vmm.hypervisor.VcpuExit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Exit decoding over a synthetic kvm_run, filled at the C offsets (written out here rather than
 * taken from {@link KvmRun}, so that a wrong constant fails).
 */
class KvmRunTest {
    private static final int MAPPING_SIZE = 3 * 4096;
    /** KVM_PIO_PAGE_OFFSET * PAGE_SIZE on x86: where KVM puts port I/O data. */
    private static final int PIO_DATA = 4096;

    private ByteBuffer shared;
    private KvmRun run;

    @BeforeEach
    void mapping() {
        shared = ByteBuffer.allocateDirect(MAPPING_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        run = new KvmRun(shared);
    }

    private void io(int direction, int size, int port, int count) {
        shared.putInt(8, 2);
        shared.put(32, (byte) direction);
        shared.put(33, (byte) size);
        shared.putShort(34, (short) port);
        shared.putInt(36, count);
        shared.putLong(40, PIO_DATA);
    }

    @Test
    void portOutputViewsTheDataPage() {
        io(1, 2, 0x3f8, 1);
        shared.putShort(PIO_DATA, (short) 0xabcd);
        VcpuExit.IoOut out = assertInstanceOf(VcpuExit.IoOut.class, run.decode());
        assertEquals(0x3f8, out.port());
        assertEquals(2, out.size());
        assertEquals(1, out.count());
        assertEquals(2, out.data().remaining());
        assertEquals(ByteOrder.LITTLE_ENDIAN, out.data().order());
        assertEquals((short) 0xabcd, out.data().getShort());
    }

    @Test
    void portInputAnswerLandsInTheDataPage() {
        io(0, 4, 0xcfc, 1);
        VcpuExit.IoIn in = assertInstanceOf(VcpuExit.IoIn.class, run.decode());
        assertEquals(0xcfc, in.port());
        in.data().putInt(0x11223344);
        assertEquals(0x11223344, shared.getInt(PIO_DATA));
    }

    @Test
    void stringIoCoversSizeTimesCount() {
        io(1, 1, 0x3f8, 100);
        VcpuExit.IoOut out = assertInstanceOf(VcpuExit.IoOut.class, run.decode());
        assertEquals(100, out.count());
        assertEquals(100, out.data().remaining());
    }

    @Test
    void dataViewsAreReusedAndResetBetweenExits() {
        io(1, 1, 0x80, 1);
        VcpuExit.IoOut first = assertInstanceOf(VcpuExit.IoOut.class, run.decode());
        first.data().get();                       // a handler that moves the position
        first.data().order(ByteOrder.BIG_ENDIAN); // and changes the order
        VcpuExit.IoOut second = assertInstanceOf(VcpuExit.IoOut.class, run.decode());
        assertSame(first.data(), second.data(), "no new view per exit");
        assertEquals(0, second.data().position());
        assertEquals(1, second.data().remaining());
        assertEquals(ByteOrder.LITTLE_ENDIAN, second.data().order());
    }

    @Test
    void ioDataOutsideTheMappingIsRejected() {
        io(1, 4, 0x80, 1);
        shared.putLong(40, MAPPING_SIZE - 2);
        assertThrows(IllegalStateException.class, run::decode);
    }

    @Test
    void mmioWriteAndRead() {
        shared.putInt(8, 6);
        shared.putLong(32, 0xfed00000L);
        shared.putLong(40, 0x0807060504030201L);
        shared.putInt(48, 4);
        shared.put(52, (byte) 1);
        VcpuExit.MmioWrite write = assertInstanceOf(VcpuExit.MmioWrite.class, run.decode());
        assertEquals(0xfed00000L, write.address());
        assertEquals(4, write.length());
        assertEquals(4, write.data().remaining());
        assertEquals(0x04030201, write.data().getInt(0));

        shared.put(52, (byte) 0);
        shared.putInt(48, 8);
        VcpuExit.MmioRead read = assertInstanceOf(VcpuExit.MmioRead.class, run.decode());
        assertEquals(8, read.length());
        read.data().putLong(0, 0x1122334455667788L);
        assertEquals(0x1122334455667788L, shared.getLong(40));
    }

    @Test
    void hypercallArgumentsAndResult() {
        shared.putInt(8, 3);
        shared.putLong(32, 12);  // KVM_HC_MAP_GPA_RANGE
        for (int i = 0; i < 6; i++) {
            shared.putLong(40 + 8 * i, 100 + i);
        }
        VcpuExit.Hypercall call = assertInstanceOf(VcpuExit.Hypercall.class, run.decode());
        assertEquals(12, call.nr());
        assertArrayEquals(new long[] {100, 101, 102, 103, 104, 105}, call.args());
        assertEquals(8, call.result().remaining());
        call.result().putLong(0, -22);
        assertEquals(-22, shared.getLong(88));
    }

    @Test
    void exitsWithoutData() {
        shared.putInt(8, 5);
        assertInstanceOf(VcpuExit.Hlt.class, run.decode());
        shared.putInt(8, 8);
        assertInstanceOf(VcpuExit.Shutdown.class, run.decode());
        shared.putInt(8, 10);
        assertInstanceOf(VcpuExit.Interrupted.class, run.decode());
    }

    @Test
    void errorExits() {
        shared.putInt(8, 9);
        shared.putLong(32, 0x80000021L);
        assertEquals(new VcpuExit.FailEntry(0x80000021L), run.decode());
        shared.putInt(8, 17);
        shared.putInt(32, 1);  // KVM_INTERNAL_ERROR_EMULATION
        assertEquals(new VcpuExit.InternalError(1), run.decode());
        shared.putInt(8, 24);
        shared.putInt(32, 2);  // KVM_SYSTEM_EVENT_RESET
        assertEquals(new VcpuExit.SystemEvent(2), run.decode());
        shared.putInt(8, 4);   // KVM_EXIT_DEBUG
        assertEquals(new VcpuExit.Unknown(4), run.decode());
    }

    @Test
    void immediateExitIsByteOne() {
        run.setImmediateExit(true);
        assertEquals(1, shared.get(1));
        assertEquals(0, shared.get(0), "request_interrupt_window untouched");
        run.setImmediateExit(false);
        assertEquals(0, shared.get(1));
    }

    @Test
    void mappingSmallerThanKvmRunIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> new KvmRun(ByteBuffer.allocateDirect(100)));
    }
}
