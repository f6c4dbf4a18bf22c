package dev.ferry.vmm.hypervisor.kvm;

import dev.ferry.vmm.hypervisor.VcpuExit;
import dev.ferry.vmm.testing.KvmAvailability;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/** {@link KvmVcpu#requestExit()}: immediate_exit plus a signal to the vCPU thread. */
@Tag("kvm")
class KvmRequestExitTest {
    private static final long RAM_BASE = 0x1000;
    private static final long RAM_SIZE = 0x4000;
    private static final long CODE = 0x1000;

    private static final byte[] SPIN = {(byte) 0xeb, (byte) 0xfe};  // jmp . (real mode)
    private static final byte[] HALT = {(byte) 0xf4};               // hlt

    @BeforeEach
    void requireKvm() {
        KvmAvailability.assumeKvm();
    }

    @Test
    void kicksASpinningGuestOutOfKvmRun() throws Exception {
        ScheduledExecutorService requester = Executors.newSingleThreadScheduledExecutor();
        AtomicReference<Thread> vcpuThread = new AtomicReference<>();
        GuestFixture guest = GuestFixture.create(RAM_BASE, RAM_SIZE);
        try {
            guest.load(CODE, SPIN);
            guest.enterRealMode(CODE);
            VcpuExit exit = assertTimeoutPreemptively(Duration.ofSeconds(1), () -> {
                vcpuThread.set(Thread.currentThread());
                guest.vcpu.bindToCurrentThread();
                requester.schedule(guest.vcpu::requestExit, 100, TimeUnit.MILLISECONDS);
                return guest.vcpu.run();
            });
            assertSame(KvmRun.INTERRUPTED, exit);
        } finally {
            requester.shutdownNow();
            stopAndClose(guest, vcpuThread.get());
        }
    }

    @Test
    void requestIsStickyUntilClearedAndHarmlessOutsideKvmRun() {
        try (GuestFixture guest = GuestFixture.create(RAM_BASE, RAM_SIZE)) {
            guest.load(CODE, HALT);
            guest.enterRealMode(CODE);
            guest.vcpu.bindToCurrentThread();

            // The kick reaches this thread while it runs Java: the handler must do nothing.
            guest.vcpu.requestExit();
            assertInstanceOf(VcpuExit.Interrupted.class, guest.vcpu.run(), "immediate_exit stops entry");
            guest.vcpu.requestExit();
            assertInstanceOf(VcpuExit.Interrupted.class, guest.vcpu.run(), "still requested");

            guest.vcpu.clearExitRequest();
            assertInstanceOf(VcpuExit.Hlt.class, guest.vcpu.run(), "runs again once cleared");
        }
    }

    /**
     * Tears the guest down even if the kick failed: kick again, wait for the vCPU thread to leave
     * KVM_RUN, and only then unmap kvm_run (which that thread's exit views point into).
     */
    private static void stopAndClose(GuestFixture guest, Thread vcpuThread) throws InterruptedException {
        if (vcpuThread != null) {
            for (int i = 0; i < 50 && vcpuThread.isAlive() && vcpuThread.getState() == Thread.State.RUNNABLE; i++) {
                guest.vcpu.requestExit();
                vcpuThread.join(100);
            }
            // assertTimeoutPreemptively's thread returns to its pool; RUNNABLE means still in KVM_RUN.
            assertFalse(vcpuThread.isAlive() && vcpuThread.getState() == Thread.State.RUNNABLE,
                    "vCPU thread did not leave KVM_RUN; leaking the guest rather than unmapping under it");
        }
        guest.close();
    }
}
