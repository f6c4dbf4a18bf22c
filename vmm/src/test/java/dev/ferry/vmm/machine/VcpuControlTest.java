package dev.ferry.vmm.machine;

import dev.ferry.vmm.hypervisor.Vcpu;
import dev.ferry.vmm.os.Threads;
import dev.ferry.vmm.testing.ProcSelf;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
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
                while (control.awaitRun(null)) {
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

    /**
     * The vCPUs enter the guest: as before, some entry during 20 ms (time for every started vCPU
     * to get going), and on a loaded machine, which may not run a woken thread for a while, up to
     * 5 s for the first one.
     */
    private boolean entersTheGuest() throws InterruptedException {
        long before = entries.get();
        Thread.sleep(20);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (entries.get() == before && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        return entries.get() != before;
    }

    /** Whether a vCPU entered the guest during 20 ms: for the cases where none may. */
    private boolean running() throws InterruptedException {
        long before = entries.get();
        Thread.sleep(20);
        return entries.get() != before;
    }

    @Test
    void aFrozenMachineStaysParkedThroughStopAndContUntilThawed() throws Exception {
        startVcpus();
        control.release();
        assertTrue(entersTheGuest());

        assertTrue(control.freeze(() -> { }, 5_000, true, false));
        assertFalse(running(), "frozen vCPUs do not enter the guest");
        control.release();                                  // cont while frozen
        assertFalse(running(), "cont does not undo a freeze");

        control.thaw();
        assertTrue(entersTheGuest(), "thawed with the run flag set: the vCPUs run again");

        assertTrue(control.freeze(() -> { }, 5_000, true, false));
        assertTrue(control.stopAll(() -> { }, 5_000));    // stop while frozen
        control.thaw();
        assertFalse(running(), "thawed after a stop: the vCPUs stay parked");
        control.release();
        assertTrue(entersTheGuest());
    }

    /** A stand-in vCPU that records which thread saved it and how often. */
    private static final class FakeVcpu implements VcpuControl.Parking {
        final int id;
        final List<Thread> savedBy = new java.util.concurrent.CopyOnWriteArrayList<>();
        final AtomicLong completions = new AtomicLong();
        final Vcpu vcpu;

        FakeVcpu(int id) {
            this.id = id;
            this.vcpu = (Vcpu) java.lang.reflect.Proxy.newProxyInstance(
                    getClass().getClassLoader(), new Class<?>[] {Vcpu.class},
                    (proxy, method, args) -> switch (method.getName()) {
                        case "id" -> id;
                        case "saveState" -> {
                            savedBy.add(Thread.currentThread());
                            yield null;
                        }
                        default -> null;
                    });
        }

        @Override
        public Vcpu vcpu() {
            return vcpu;
        }

        @Override
        public void completePendingExit() {
            completions.incrementAndGet();
        }
    }

    @Test
    void eachFrozenVcpuSavesItsOwnStateOnceAndAnAlreadyParkedOneIsSavedByTheCollector() throws Exception {
        FakeVcpu[] fakes = {new FakeVcpu(0), new FakeVcpu(1)};
        List<Thread> threads = new ArrayList<>();
        for (FakeVcpu f : fakes) {
            Thread t = new Thread(() -> {
                while (control.awaitRun(f)) {
                    entries.incrementAndGet();
                    Thread.onSpinWait();
                }
                control.exited();
            });
            t.setDaemon(true);
            threads.add(t);
            vcpus.add(t);
            t.start();
        }
        control.release();
        assertTrue(entersTheGuest());

        // Running vCPUs: each parks for the freeze, completing its exit first, and saves itself.
        assertTrue(control.freeze(() -> { }, 5_000, true, false));
        List<Vcpu> all = List.of(fakes[0].vcpu, fakes[1].vcpu);
        control.frozenStates().collect(all, 5_000);
        for (int i = 0; i < 2; i++) {
            assertEquals(List.of(threads.get(i)), fakes[i].savedBy, "vCPU " + i + " saved once, by its own thread");
            assertTrue(fakes[i].completions.get() >= 1, "the pending exit is completed before parking");
        }
        control.thaw();
        assertTrue(entersTheGuest());

        // Paused vCPUs (parked before the freeze) never pass the parking point again: the
        // collecting thread saves them itself.
        assertTrue(control.stopAll(() -> { }, 5_000));
        assertTrue(control.freeze(() -> { }, 5_000, true, false));
        control.frozenStates().collect(all, 5_000);
        for (int i = 0; i < 2; i++) {
            assertEquals(2, fakes[i].savedBy.size());
            assertSame(Thread.currentThread(), fakes[i].savedBy.get(1));
        }
        control.thaw();
    }

    /**
     * A freeze from a real-time thread waits for the vCPUs instead of polling: polling, it held
     * its core for SPIN_NANOS and a vCPU thread waiting for that core could not park. Its CPU
     * time shows which: a vCPU that parks 20 ms after the kick costs a polling freezer at least
     * the 2 ms it polls, a waiting one microseconds.
     */
    @Test
    void aFreezeThatMayNotSpinWaitsForSlowVcpusWithoutBurningItsCore() throws Exception {
        java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
        java.util.concurrent.atomic.AtomicBoolean kicked = new java.util.concurrent.atomic.AtomicBoolean();
        for (int i = 0; i < 2; i++) {
            Thread t = new Thread(() -> {
                while (control.awaitRun(null)) {
                    while (!kicked.get()) {         // "in the guest" until kicked
                        Thread.onSpinWait();
                    }
                    try {
                        Thread.sleep(20);           // a slow exit: the kick takes a while to land
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                control.exited();
            });
            t.setDaemon(true);
            vcpus.add(t);
            t.start();
        }
        control.release();
        long before = cpu.getCurrentThreadCpuTime();
        assertTrue(control.freeze(() -> kicked.set(true), 5_000, false, false));
        long usedMicros = (cpu.getCurrentThreadCpuTime() - before) / 1_000;
        assertTrue(usedMicros < 1_000, "the freezer used " + usedMicros + " us of CPU waiting for the vCPUs");
        control.thaw();                             // kicked stays set: the threads can end
    }

    @Test
    void aFreezeThatTimesOutThawsAgain() throws Exception {
        // Two vCPUs expected, none started: they can never all park.
        assertFalse(control.freeze(() -> { }, 100, true, false));
        startVcpus();
        control.release();
        assertTrue(entersTheGuest(), "not left frozen");
    }

    /** Test vCPU threads that report their tid, and note the policy they had at every guest entry. */
    private List<Integer> startVcpusWatchingTheirPolicy(VcpuControl c, int count, int policy,
                                                        java.util.Set<Integer> policiesSeen) throws Exception {
        List<Integer> tids = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(count);
        for (int i = 0; i < count; i++) {
            int index = i;
            Thread t = new Thread(() -> {
                if (policy != Threads.SCHED_OTHER) {
                    Threads.setPolicy(policy);
                }
                int tid = Threads.currentTid();
                c.threadStarted(index, tid);
                tids.add(tid);
                started.countDown();
                while (c.awaitRun(null)) {
                    policiesSeen.add(ProcSelf.schedulingPolicyOfThisThread());
                    entries.incrementAndGet();
                    Thread.onSpinWait();
                }
                c.exited(index);
            });
            t.setDaemon(true);
            vcpus.add(t);
            t.start();
        }
        started.await();
        return tids;
    }

    @Test
    void aRealTimeFreezePutsTheVcpuThreadsAheadUntilTheThawAndNoneEntersTheGuestAhead() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(realTimeAllowed(), "this process may not use SCHED_FIFO");
        java.util.Set<Integer> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
        List<Integer> tids = startVcpusWatchingTheirPolicy(control, 2, Threads.SCHED_OTHER, seen);
        control.release();
        assertTrue(entersTheGuest());

        assertTrue(control.freeze(() -> { }, 5_000, true, true));
        for (int tid : tids) {
            assertEquals(Threads.SCHED_FIFO, ProcSelf.schedulingPolicyOf(tid));
        }
        // An entry under way when the freeze came may have gone in ahead (the kick follows at
        // once); none may after the thaw. Every thread is parked now: nothing adds meanwhile.
        seen.clear();
        control.thaw();
        for (int tid : tids) {
            assertEquals(Threads.SCHED_OTHER, ProcSelf.schedulingPolicyOf(tid));
        }
        assertTrue(entersTheGuest());
        assertEquals(java.util.Set.of(Threads.SCHED_OTHER), seen,
                "every entry into the guest after the thaw as a time-sharing thread");

        // A freeze that times out (a vCPU never parks) puts the threads back too.
        VcpuControl stuck = new VcpuControl(2);
        List<Integer> one = startVcpusWatchingTheirPolicy(stuck, 1, Threads.SCHED_OTHER, seen);
        stuck.release();
        assertFalse(stuck.freeze(() -> { }, 100, true, true));
        assertEquals(Threads.SCHED_OTHER, ProcSelf.schedulingPolicyOf(one.get(0)));
        stuck.terminate();
    }

    @Test
    void aVcpuThreadInAnotherPolicyIsLeftAsItIs() throws Exception {
        java.util.Set<Integer> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
        List<Integer> tids = startVcpusWatchingTheirPolicy(control, 2, Threads.SCHED_IDLE, seen);
        control.release();
        assertTrue(control.freeze(() -> { }, 5_000, true, true));
        assertEquals(Threads.SCHED_IDLE, ProcSelf.schedulingPolicyOf(tids.get(0)),
                "an operator's choice (chrt -i) is not replaced");
        control.thaw();
        assertEquals(Threads.SCHED_IDLE, ProcSelf.schedulingPolicyOf(tids.get(1)));
    }

    private static boolean realTimeAllowed() throws InterruptedException {
        boolean[] ok = {false};
        Thread probe = new Thread(() -> ok[0] = Threads.enterRealtime()
                && Threads.setPolicy(Threads.SCHED_OTHER));
        probe.start();
        probe.join();
        return ok[0];
    }
}
