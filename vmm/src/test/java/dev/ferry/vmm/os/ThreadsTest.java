package dev.ferry.vmm.os;

import dev.ferry.vmm.testing.ProcSelf;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class ThreadsTest {

    @Test
    void currentTidIsTheKernelThreadId() throws Exception {
        // /proc/thread-self links to "<pid>/task/<tid>" of the reading thread.
        String link = Files.readSymbolicLink(Path.of("/proc/thread-self")).toString();
        assertEquals(link.substring(link.lastIndexOf('/') + 1), Integer.toString(Threads.currentTid()));
        assertEquals(ProcessHandle.current().pid(), Threads.processId());
    }

    @Test
    void eachThreadHasItsOwnTid() throws InterruptedException {
        AtomicInteger other = new AtomicInteger();
        Thread thread = new Thread(() -> other.set(Threads.currentTid()));
        thread.start();
        thread.join();
        assertNotEquals(0, other.get());
        assertNotEquals(Threads.currentTid(), other.get());
    }

    @Test
    void aThreadEntersSchedIdleAndLeavesItWhenTheProbeSaysItMay() throws Exception {
        Threads.probeIdlePolicy();
        AtomicInteger idle = new AtomicInteger(-1);
        AtomicInteger after = new AtomicInteger(-1);
        Thread thread = new Thread(() -> {
            try {
                if (Threads.setPolicy(Threads.SCHED_IDLE)) {
                    idle.set(ProcSelf.schedulingPolicyOfThisThread());
                }
                if (Threads.idlePolicyReversible() && Threads.setPolicy(Threads.SCHED_OTHER)) {
                    after.set(ProcSelf.schedulingPolicyOfThisThread());
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        thread.start();
        thread.join();
        assertEquals(Threads.SCHED_IDLE, idle.get(), "entering SCHED_IDLE needs no privilege");
        if (Threads.idlePolicyReversible()) {
            assertEquals(Threads.SCHED_OTHER, after.get());
        }
        assertEquals(Threads.SCHED_OTHER, ProcSelf.schedulingPolicyOfThisThread(), "only the calling thread changed");
    }

    @Test
    void aThreadEntersTheRealTimePolicyIfThisProcessMayAndLeavesIt() throws Exception {
        AtomicInteger realtime = new AtomicInteger(-1);
        AtomicInteger after = new AtomicInteger(-1);
        Thread thread = new Thread(() -> {
            try {
                if (Threads.enterRealtime()) {
                    realtime.set(ProcSelf.schedulingPolicyOfThisThread());
                    Threads.setPolicy(Threads.SCHED_OTHER);
                    after.set(ProcSelf.schedulingPolicyOfThisThread());
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        thread.start();
        thread.join();
        Assumptions.assumeTrue(realtime.get() != -1, "this process may not use SCHED_FIFO (needs CAP_SYS_NICE"
                + " or RLIMIT_RTPRIO)");
        assertEquals(Threads.SCHED_FIFO, realtime.get());
        assertEquals(Threads.SCHED_OTHER, after.get(), "leaving it needs no privilege");
        assertEquals(Threads.SCHED_OTHER, ProcSelf.schedulingPolicyOfThisThread(), "only the calling thread changed");
    }

    @Test
    void anotherThreadOfThisProcessIsPutInTheRealTimePolicyAndBackByItsTid() throws Exception {
        AtomicInteger tid = new AtomicInteger();
        java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        Thread thread = new Thread(() -> {
            tid.set(Threads.currentTid());
            started.countDown();
            try {
                done.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        thread.start();
        try {
            started.await();
            Assumptions.assumeTrue(Threads.enterRealtime(tid.get()), "this process may not use SCHED_FIFO");
            assertEquals(Threads.SCHED_FIFO, ProcSelf.schedulingPolicyOf(tid.get()));
            assertEquals(Threads.SCHED_OTHER, ProcSelf.schedulingPolicyOfThisThread(), "only that thread changed");
            assertEquals(true, Threads.setPolicy(tid.get(), Threads.SCHED_OTHER));
            assertEquals(Threads.SCHED_OTHER, ProcSelf.schedulingPolicyOf(tid.get()));
        } finally {
            done.countDown();
            thread.join();
        }
    }
}
