package dev.ferry.vmm.machine;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The vCPU run/park protocol with plain threads standing in for vCPUs (each "guest entry" is one
 * pass of its loop): a migration's freeze holds whatever stop and cont do meanwhile.
 */
class VcpuControlTest {

    private final VcpuControl control = new VcpuControl(2);
    private final AtomicLong entries = new AtomicLong();
    private final List<Thread> vcpus = new ArrayList<>();

    private void startVcpus() {
        for (int i = 0; i < 2; i++) {
            Thread t = new Thread(() -> {
                while (control.awaitRun()) {
                    entries.incrementAndGet();
                    Thread.onSpinWait();
                }
                control.exited();
            });
            t.setDaemon(true);
            vcpus.add(t);
            t.start();
        }
    }

    @AfterEach
    void endVcpus() throws InterruptedException {
        control.terminate();
        for (Thread t : vcpus) {
            t.join(5_000);
        }
    }

    private boolean running() throws InterruptedException {
        long before = entries.get();
        Thread.sleep(20);
        return entries.get() != before;
    }

    @Test
    void aFrozenMachineStaysParkedThroughStopAndContUntilThawed() throws Exception {
        startVcpus();
        control.release();
        assertTrue(running());

        assertTrue(control.freeze(() -> { }, 5_000));
        assertFalse(running(), "frozen vCPUs do not enter the guest");
        control.release();                                  // cont while frozen
        assertFalse(running(), "cont does not undo a freeze");

        control.thaw();
        assertTrue(running(), "thawed with the run flag set: the vCPUs run again");

        assertTrue(control.freeze(() -> { }, 5_000));
        assertTrue(control.stopAll(() -> { }, 5_000));    // stop while frozen
        control.thaw();
        assertFalse(running(), "thawed after a stop: the vCPUs stay parked");
        control.release();
        assertTrue(running());
    }

    @Test
    void aFreezeThatTimesOutThawsAgain() throws Exception {
        // Two vCPUs expected, none started: they can never all park.
        assertFalse(control.freeze(() -> { }, 100));
        startVcpus();
        control.release();
        assertTrue(running(), "not left frozen");
    }
}
