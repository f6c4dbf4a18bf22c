package dev.ferry.vmm.machine;

import dev.ferry.vmm.device.IoBus;
import dev.ferry.vmm.device.IoDevice;
import dev.ferry.vmm.device.PageStateChannel;
import dev.ferry.vmm.hypervisor.VcpuExit;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.memory.PageStateBitmap;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The exit handler fed synthetic exits, as Firecracker tests its handle_kvm_exit. */
class ExitHandlerTest {

    private final List<String> log = new ArrayList<>();
    private final IoBus ports = new IoBus("port", log::add);
    private final IoBus mmio = new IoBus("mmio", log::add);
    private final MemoryLayout layout = new MemoryLayout(64L << 20);
    private final PageStateBitmap bitmap = new PageStateBitmap(layout.ramEnd());
    private final ExitHandler handler = new ExitHandler(ports, mmio,
            new PageStateChannel(bitmap, layout, log::add));
    private final List<Long> written = new ArrayList<>();

    ExitHandlerTest() {
        IoDevice dev = new IoDevice() {
            @Override
            public long read(long offset, int size) {
                return 0xAB + offset;
            }

            @Override
            public void write(long offset, int size, long value) {
                written.add(value);
            }
        };
        ports.register(0x3F8, 8, "uart", dev);
        mmio.register(0xD000_0000L, 0x1000, "mmio-dev", dev);
    }

    private static ByteBuffer buf(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void portAndMmioExitsReachDevicesAndContinue() {
        ByteBuffer out = buf(1).put(0, (byte) 'A');
        assertEquals(ExitAction.CONTINUE, handler.handle(0, new VcpuExit.IoOut(0x3F8, 1, 1, out)));
        ByteBuffer in = buf(1);
        assertEquals(ExitAction.CONTINUE, handler.handle(0, new VcpuExit.IoIn(0x3FD, 1, 1, in)));
        assertEquals((byte) 0xB0, in.get(0));
        ByteBuffer w = buf(8).putInt(0, 0x1234);
        assertEquals(ExitAction.CONTINUE, handler.handle(1, new VcpuExit.MmioWrite(0xD000_0010L, 4, w)));
        ByteBuffer r = buf(8);
        handler.handle(1, new VcpuExit.MmioRead(0xD000_0004L, 4, r));
        assertEquals(0xAF, r.getInt(0));
        assertEquals(List.of((long) 'A', 0x1234L), written);
    }

    @Test
    void unassignedPortsDoNotStopTheGuest() {
        ByteBuffer in = buf(2);
        assertEquals(ExitAction.CONTINUE, handler.handle(0, new VcpuExit.IoIn(0x80, 2, 1, in)));
        assertEquals((short) -1, in.getShort(0));
        assertEquals(1, log.size());
    }

    @Test
    void tripleFaultIsAGuestShutdownNamingTheVcpu() {
        ExitAction a = handler.handle(3, new VcpuExit.Shutdown());
        assertEquals("vCPU 3 shut down (triple fault)", ((ExitAction.GuestShutdown) a).reason());
    }

    @Test
    void failuresBecomeFatalWithAMessage() {
        assertTrue(((ExitAction.Fatal) handler.handle(0, new VcpuExit.InternalError(1))).message()
                .contains("emulation failed"));
        assertTrue(((ExitAction.Fatal) handler.handle(0, new VcpuExit.FailEntry(0x80000021L))).message()
                .contains("0x80000021"));
        assertTrue(((ExitAction.Fatal) handler.handle(0, new VcpuExit.Unknown(99))).message().contains("99"));
    }

    @Test
    void systemEventsAndInterruptions() {
        assertEquals(new ExitAction.SystemEvent("guest-reset", true), handler.handle(0, new VcpuExit.SystemEvent(2)));
        assertEquals(new ExitAction.SystemEvent("guest-shutdown", false), handler.handle(0, new VcpuExit.SystemEvent(1)));
        assertInstanceOf(ExitAction.Interrupted.class, handler.handle(0, new VcpuExit.Interrupted()));
        assertInstanceOf(ExitAction.Halted.class, handler.handle(0, new VcpuExit.Hlt()));
    }

    @Test
    void mapGpaRangeHypercallUpdatesThePageStates() {
        ByteBuffer ret = buf(8).putLong(0, 77);
        // KVM_HC_MAP_GPA_RANGE(gpa=2 MiB, 16 pages, 4K pages, decrypted): shared.
        handler.handle(0, new VcpuExit.Hypercall(12, new long[] {0x200000, 16, 0, 0, 0, 0}, ret));
        assertEquals(0, ret.getLong(0));
        assertEquals(16, bitmap.sharedCount());
        handler.handle(0, new VcpuExit.Hypercall(12, new long[] {0x200000, 8, 1L << 4, 0, 0, 0}, ret));
        assertEquals(8, bitmap.sharedCount());
        handler.handle(0, new VcpuExit.Hypercall(12, new long[] {1L << 40, 1, 0, 0, 0, 0}, ret));
        assertEquals(-22, ret.getLong(0));
        handler.handle(0, new VcpuExit.Hypercall(12, new long[] {0x200000, 1, 7, 0, 0, 0}, ret));
        assertEquals(-22, ret.getLong(0), "page-size field 7 is invalid");
        handler.handle(0, new VcpuExit.Hypercall(5, new long[6], ret));
        assertEquals(-1000, ret.getLong(0), "unknown hypercalls get -KVM_ENOSYS");
    }
}
