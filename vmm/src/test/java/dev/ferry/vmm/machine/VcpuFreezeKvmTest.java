package dev.ferry.vmm.machine;

import dev.ferry.vmm.device.IoBus;
import dev.ferry.vmm.device.IoDevice;
import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.VcpuState;
import dev.ferry.vmm.hypervisor.kvm.Kvm;
import dev.ferry.vmm.hypervisor.kvm.KvmVcpu;
import dev.ferry.vmm.hypervisor.kvm.KvmVm;
import dev.ferry.vmm.os.HostMapping;
import dev.ferry.vmm.os.Memfd;
import dev.ferry.vmm.testing.KvmAvailability;
import dev.ferry.vmm.testing.RealMode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A migration freeze on a real vCPU thread: the freeze lands right after an IN exit was handled,
 * when KVM has not yet put the value in AL nor moved RIP past the instruction (it does both at
 * the next KVM_RUN; api.rst, "the corresponding operations are complete ... only after userspace
 * has re-entered the kernel with KVM_RUN"). The parking vCPU must complete the IN before it
 * saves its own state, or the target would execute the IN a second time.
 */
@Tag("kvm")
class VcpuFreezeKvmTest {
    private static final long RAM_SIZE = 0x4000;
    private static final long CODE = 0x1000;
    private static final int PORT = 0x80;
    private static final int VALUE = 0x5a;
    // Real mode (.code16): in $0x80,%al; out %al,$0x81; jmp .
    private static final byte[] PROGRAM = {(byte) 0xe4, (byte) PORT, (byte) 0xe6, (byte) 0x81, (byte) 0xeb,
            (byte) 0xfe};
    private static final long RIP_AFTER_IN = CODE + 2;

    @BeforeAll
    static void kvm() {
        KvmAvailability.assumeKvm();
    }

    @Test
    void aVcpuFrozenRightAfterAnInExitCompletesItBeforeSavingItsState() throws Exception {
        // Closed in reverse order: the VM before the RAM it maps.
        try (Kvm kvm = Kvm.open(); Memfd memfd = Memfd.create("freeze", RAM_SIZE); HostMapping ram = HostMapping.map(memfd);
             KvmVm vm = kvm.createVirtualMachine()) {
            vm.mapMemory(0, 0, RAM_SIZE, ram.address(), false);
            ram.buffer(CODE, PROGRAM.length).put(PROGRAM);
            vm.createInterruptController();     // a LAPIC, part of the state saved
            KvmVcpu vcpu = vm.createVcpu(0);
            vcpu.setCpuid(kvm.supportedCpuid());
            RealMode.enter(vcpu, CODE);

            VcpuControl control = new VcpuControl(1);
            CompletableFuture<Boolean> froze = new CompletableFuture<>();
            IoBus ports = new IoBus("port", message -> { });
            ports.register(PORT, 1, "freezes-on-read", new IoDevice() {
                @Override
                public long read(long offset, int size) {
                    // The migration thread freezes while this exit is being handled; the IN
                    // returns once the freeze is on.
                    CompletableFuture.runAsync(() -> {
                        try {
                            froze.complete(control.freeze(vcpu::requestExit, 5_000, true, false));
                        } catch (InterruptedException e) {
                            froze.completeExceptionally(e);
                        }
                    });
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                    while (control.frozenStates() == null && System.nanoTime() < deadline) {
                        Thread.onSpinWait();
                    }
                    return VALUE;
                }

                @Override
                public void write(long offset, int size, long value) {
                }
            });
            ExitHandler handler = new ExitHandler(ports, new IoBus("mmio", message -> { }), null);
            Thread thread = new VcpuThread(vcpu, handler, control, (id, action) -> { }, tid -> { }).start();
            try {
                control.release();
                assertTrue(froze.get(10, TimeUnit.SECONDS), "the vCPU parked for the freeze");
                List<VcpuState> states = control.frozenStates().collect(List.of(vcpu), 5_000);
                Registers.Standard regs = states.get(0).registers();
                assertEquals(RIP_AFTER_IN, regs.rip(), "RIP past the IN: the exit was completed before the save");
                assertEquals(VALUE, regs.rax() & 0xff, "AL holds what the device returned");
            } finally {
                control.terminate();
                thread.join(5_000);
            }
        }
    }
}
