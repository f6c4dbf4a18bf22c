package dev.ferry.vmm.hypervisor.kvm;

import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.VcpuExit;
import dev.ferry.vmm.testing.KvmAvailability;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/**
 * Runs a few real-mode instructions on a real vCPU and checks every exit, like rust-vmm's
 * kvm-ioctls test_run_code.
 */
@Tag("kvm")
class KvmRealModeTest {
    private static final long RAM_BASE = 0x1000;
    private static final long RAM_SIZE = 0x4000;
    private static final long CODE = 0x1000;

    // Assembled with GNU as (.code16) and checked with objdump -M i8086.
    private static final byte[] PROGRAM = {
        (byte) 0xba, (byte) 0xf8, 0x03,       // mov  $0x3f8, %dx
        (byte) 0xb0, 0x5a,                    // mov  $0x5a, %al
        (byte) 0xee,                          // out  %al, (%dx)        -> IoOut 0x3f8
        (byte) 0xba, (byte) 0xfd, 0x03,       // mov  $0x3fd, %dx
        (byte) 0xec,                          // in   (%dx), %al        -> IoIn 0x3fd
        (byte) 0x88, (byte) 0xc3,             // mov  %al, %bl
        (byte) 0xb8, 0x34, 0x12,              // mov  $0x1234, %ax
        (byte) 0xa3, 0x00, (byte) 0x80,       // mov  %ax, 0x8000       -> MmioWrite (no RAM there)
        (byte) 0x8b, 0x0e, 0x10, (byte) 0x80, // mov  0x8010, %cx       -> MmioRead
        (byte) 0x89, 0x0e, 0x00, 0x30,        // mov  %cx, 0x3000       -> RAM, dirties page 2 of the slot
        (byte) 0xf4,                          // hlt                    -> Hlt (no in-kernel irqchip)
    };

    @BeforeEach
    void requireKvm() {
        KvmAvailability.assumeKvm();
    }

    @Test
    void runsPortIoMmioAndHaltExitsAndLogsTheDirtyPage() {
        try (GuestFixture guest = GuestFixture.create(RAM_BASE, RAM_SIZE)) {
            guest.load(CODE, PROGRAM);
            guest.enterRealMode(CODE);
            guest.vcpu.bindToCurrentThread();

            VcpuExit.IoOut out = assertInstanceOf(VcpuExit.IoOut.class, guest.vcpu.run());
            assertEquals(0x3f8, out.port());
            assertEquals(1, out.size());
            assertEquals(1, out.count());
            assertEquals(1, out.data().remaining());
            assertEquals(0x5a, out.data().get(0));

            VcpuExit.IoIn in = assertInstanceOf(VcpuExit.IoIn.class, guest.vcpu.run());
            assertEquals(0x3fd, in.port());
            assertEquals(1, in.size());
            assertEquals(1, in.count());
            in.data().put(0, (byte) 0x42);

            VcpuExit.MmioWrite write = assertInstanceOf(VcpuExit.MmioWrite.class, guest.vcpu.run());
            assertEquals(0x8000, write.address());
            assertEquals(2, write.length());
            assertEquals(0x1234, write.data().getShort(0));

            VcpuExit.MmioRead read = assertInstanceOf(VcpuExit.MmioRead.class, guest.vcpu.run());
            assertEquals(0x8010, read.address());
            assertEquals(2, read.length());
            read.data().putShort(0, (short) 0xbeef);

            assertInstanceOf(VcpuExit.Hlt.class, guest.vcpu.run());

            Registers.Standard regs = guest.vcpu.registers();
            assertEquals(0x42, regs.rbx() & 0xff, "the IoIn answer reached %al");
            assertEquals(0xbeef, regs.rcx() & 0xffff, "the MmioRead answer reached %cx");
            assertEquals(CODE + PROGRAM.length, regs.rip(), "rip after hlt");
            assertEquals((short) 0xbeef, guest.ram.buffer(0x3000 - RAM_BASE, 2).getShort(0));

            long[] dirty = guest.vm.fetchDirtyLog(GuestFixture.SLOT, RAM_SIZE);
            assertArrayEquals(new long[] {1L << ((0x3000 - RAM_BASE) / 4096)}, dirty,
                    "only the page written by the guest is dirty");
            assertArrayEquals(new long[] {0}, guest.vm.fetchDirtyLog(GuestFixture.SLOT, RAM_SIZE),
                    "fetching clears the log");
        }
    }

    @Test
    void outputOfSeveralBytesIsOneViewOfSizeTimesCount() {
        // mov $0x80, %dx; mov $0x12345678, %eax; out %eax, (%dx); out %ax, (%dx); hlt
        byte[] program = {
            (byte) 0xba, (byte) 0x80, 0x00,
            0x66, (byte) 0xb8, 0x78, 0x56, 0x34, 0x12,
            0x66, (byte) 0xef,
            (byte) 0xef,
            (byte) 0xf4,
        };
        try (GuestFixture guest = GuestFixture.create(RAM_BASE, RAM_SIZE)) {
            guest.load(CODE, program);
            guest.enterRealMode(CODE);

            VcpuExit.IoOut dword = assertInstanceOf(VcpuExit.IoOut.class, guest.vcpu.run());
            assertEquals(0x80, dword.port());
            assertEquals(4, dword.size());
            assertEquals(4, dword.data().remaining());
            assertEquals(0x12345678, dword.data().getInt(0), "little-endian view");

            VcpuExit.IoOut word = assertInstanceOf(VcpuExit.IoOut.class, guest.vcpu.run());
            assertEquals(2, word.size());
            assertEquals(2, word.data().remaining());
            assertEquals(0x5678, word.data().getShort(0));

            assertInstanceOf(VcpuExit.Hlt.class, guest.vcpu.run());
        }
    }
}
