package dev.ferry.vmm.machine;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The machine's control thread: one task at a time, in order, and inline runs only when idle. */
class ControlThreadTest {

    private final ControlThread control = new ControlThread("test-control");

    @AfterEach
    void end() {
        control.shutdownNow();
    }

    @Test
    void anIdleControlThreadLetsTheCallerRunTheTaskItself() throws Exception {
        control.submit(() -> { }).get(5, TimeUnit.SECONDS);
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        // The task's future completes inside the task, a moment before the control thread
        // counts itself idle again: until then the inline run is (rightly) refused.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        boolean ran;
        while (!(ran = control.runInlineIfIdle(() -> ranOn.set(Thread.currentThread())))
                && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertTrue(ran, "an idle control thread let the caller run the task");
        assertSame(Thread.currentThread(), ranOn.get());
    }

    @Test
    void aBusyControlThreadRefusesInlineRunsAndTasksKeepTheirOrder() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch started = new CountDownLatch(1);
        List<String> order = new CopyOnWriteArrayList<>();
        control.execute(() -> {
            started.countDown();
            await(release);
            order.add("first");
        });
        assertTrue(started.await(5, TimeUnit.SECONDS));
        assertFalse(control.runInlineIfIdle(() -> order.add("inline while busy")), "a task is running");

        Future<?> second = control.submit(() -> order.add("second"));
        release.countDown();
        second.get(5, TimeUnit.SECONDS);
        assertEquals(List.of("first", "second"), order);
    }

    @Test
    void controlThreadTasksWaitWhileAnInlineTaskRuns() throws Exception {
        List<String> order = new CopyOnWriteArrayList<>();
        AtomicReference<Future<?>> submitted = new AtomicReference<>();
        assertTrue(control.runInlineIfIdle(() -> {
            submitted.set(control.submit(() -> order.add("control")));
            sleep(50);
            order.add("inline");
        }));
        submitted.get().get(5, TimeUnit.SECONDS);
        assertEquals(List.of("inline", "control"), order);
    }

    @Test
    void aFailingTaskDoesNotEndTheThreadAndShutdownRefusesNewTasks() throws Exception {
        control.execute(() -> {
            throw new IllegalStateException("task failure (expected in this test)");
        });
        control.submit(() -> { }).get(5, TimeUnit.SECONDS);
        control.shutdownNow();
        assertThrows(RejectedExecutionException.class, () -> control.execute(() -> { }));
        assertFalse(control.runInlineIfIdle(() -> { }));
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
