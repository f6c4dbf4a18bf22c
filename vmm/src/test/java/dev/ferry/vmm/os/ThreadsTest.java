package dev.ferry.vmm.os;

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

    /** The calling thread's scheduling policy as the kernel reports it (proc(5): stat field 41). */
    private static int policyOfThisThread() throws Exception {
        String stat = Files.readString(Path.of("/proc/thread-self/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Integer.parseInt(fields[41 - 3]);
    }

    @Test
    void aThreadEntersSchedIdleAndLeavesItWhenTheProbeSaysItMay() throws Exception {
        Threads.probeIdlePolicy();
        AtomicInteger idle = new AtomicInteger(-1);
        AtomicInteger after = new AtomicInteger(-1);
        Thread thread = new Thread(() -> {
            try {
                if (Threads.setPolicy(Threads.SCHED_IDLE)) {
                    idle.set(policyOfThisThread());
                }
                if (Threads.idlePolicyReversible() && Threads.setPolicy(Threads.SCHED_OTHER)) {
                    after.set(policyOfThisThread());
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
        assertEquals(Threads.SCHED_OTHER, policyOfThisThread(), "only the calling thread changed");
    }

    @Test
    void aThreadEntersTheRealTimePolicyIfThisProcessMayAndLeavesIt() throws Exception {
        AtomicInteger realtime = new AtomicInteger(-1);
        AtomicInteger after = new AtomicInteger(-1);
        Thread thread = new Thread(() -> {
            try {
                if (Threads.enterRealtime()) {
                    realtime.set(policyOfThisThread());
                    Threads.setPolicy(Threads.SCHED_OTHER);
                    after.set(policyOfThisThread());
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
        assertEquals(Threads.SCHED_OTHER, policyOfThisThread(), "only the calling thread changed");
    }
}
