package dev.ferry.vmm.tuning;

import dev.ferry.vmm.os.Threads;
import dev.ferry.vmm.testing.ProcSelf;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RealtimePriorityTest {

    private static void runOn(Runnable r) throws InterruptedException {
        Thread t = new Thread(r);
        t.start();
        t.join();
    }

    @Test
    void onlyTheRaisedThreadIsLoweredAndOnlyOnce() throws Exception {
        RealtimePriority p = new RealtimePriority();
        List<Integer> seen = new CopyOnWriteArrayList<>();
        Thread[] other = new Thread[1];
        runOn(() -> {
            p.raise();
            seen.add(ProcSelf.schedulingPolicyOfThisThread());
            p.raise();                          // twice: still one raise to undo
            try {
                other[0] = new Thread(p::lower);    // another thread's lower is no business of this one
                other[0].start();
                other[0].join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            seen.add(ProcSelf.schedulingPolicyOfThisThread());
            p.lower();
            seen.add(ProcSelf.schedulingPolicyOfThisThread());
            p.lower();
            seen.add(ProcSelf.schedulingPolicyOfThisThread());
        });
        Assumptions.assumeTrue(RealtimePriority.ENABLED && seen.get(0) == Threads.SCHED_FIFO,
                "this process may not use SCHED_FIFO (needs CAP_SYS_NICE or RLIMIT_RTPRIO)");
        assertEquals(List.of(Threads.SCHED_FIFO, Threads.SCHED_FIFO, Threads.SCHED_OTHER, Threads.SCHED_OTHER), seen);
    }

    @Test
    void aThreadThatSetItsOwnPolicyIsNotTouchedAgain() throws Exception {
        RealtimePriority p = new RealtimePriority();
        List<Integer> seen = new CopyOnWriteArrayList<>();
        runOn(() -> {
            p.raise();
            boolean raised = ProcSelf.schedulingPolicyOfThisThread() == Threads.SCHED_FIFO;
            Threads.lowerPriority(19);
            Threads.setPolicy(Threads.SCHED_OTHER);
            p.replaced();
            Threads.setPolicy(Threads.SCHED_IDLE);
            p.lower();                          // replaced: must not undo SCHED_IDLE
            seen.add(raised ? ProcSelf.schedulingPolicyOfThisThread() : -1);
        });
        Assumptions.assumeTrue(seen.get(0) != -1, "this process may not use SCHED_FIFO");
        assertEquals(List.of(Threads.SCHED_IDLE), seen);
    }
}
