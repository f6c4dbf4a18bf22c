package dev.ferry.vmm.machine;

import dev.ferry.vmm.log.Log;

import java.util.ArrayDeque;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;

/**
 * The machine's control thread: runs tasks one at a time, in the order they came; every change
 * of the machine happens in one of them. A caller may instead run a task itself
 * ({@link #runInlineIfIdle}) when no task is running or waiting: the task then has the same
 * one-at-a-time order, and through this monitor the same visibility of what earlier tasks did,
 * as if the control thread had run it, without waking another thread. Why: on a small busy host
 * a wake-up waits for a core, 0.5 ms and sometimes several, and where the guest runs nowhere (an
 * incoming migration's last step) that is all downtime.
 */
final class ControlThread implements Executor {

    private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    private final Thread thread;
    /** A task is running, on the control thread or inline. */
    private boolean busy;
    private boolean shutdown;

    ControlThread(String name) {
        thread = new Thread(this::loop, name);
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public synchronized void execute(Runnable task) {
        if (shutdown) {
            throw new RejectedExecutionException("the machine's control thread has ended");
        }
        tasks.add(task);
        notifyAll();
    }

    Future<?> submit(Runnable task) {
        FutureTask<Void> f = new FutureTask<>(task, null);
        execute(f);
        return f;
    }

    /** Runs {@code action} as a task; the result completes with what it returns or throws. */
    <T> CompletableFuture<T> call(Callable<T> action) {
        Task<T> task = new Task<>(action);
        execute(task);
        return task.result;
    }

    /** As {@link #call}, but on the calling thread itself when the control thread is idle (runInlineIfIdle). */
    <T> CompletableFuture<T> callInlineIfIdle(Callable<T> action) {
        Task<T> task = new Task<>(action);
        if (!runInlineIfIdle(task)) {
            execute(task);
        }
        return task.result;
    }

    /**
     * A task and its result. A class, not a lambda per call site: it is loaded with the first
     * QMP command, so a migration's switchover finds it ready.
     */
    private static final class Task<T> implements Runnable {
        final CompletableFuture<T> result = new CompletableFuture<>();
        private final Callable<T> action;

        Task(Callable<T> action) {
            this.action = action;
        }

        @Override
        public void run() {
            try {
                result.complete(action.call());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        }
    }

    /**
     * Runs {@code task} on the calling thread if the control thread is idle and nothing waits
     * for it; returns false (not run) otherwise.
     */
    boolean runInlineIfIdle(Runnable task) {
        synchronized (this) {
            if (busy || shutdown || !tasks.isEmpty()) {
                return false;
            }
            busy = true;
        }
        try {
            task.run();
        } finally {
            done();
        }
        return true;
    }

    /** Drops the waiting tasks and ends the thread once the running task (if any) returns. */
    void shutdownNow() {
        synchronized (this) {
            shutdown = true;
            tasks.clear();
            notifyAll();
        }
        thread.interrupt();
    }

    private synchronized void done() {
        busy = false;
        notifyAll();
    }

    private void loop() {
        while (true) {
            Runnable task;
            synchronized (this) {
                try {
                    while ((tasks.isEmpty() || busy) && !shutdown) {
                        wait();
                    }
                } catch (InterruptedException e) {
                    return;
                }
                if (shutdown) {
                    return;
                }
                task = tasks.poll();
                busy = true;
            }
            try {
                task.run();
            } catch (RuntimeException | Error e) {
                Log.error("machine control task failed: " + e);
            } finally {
                done();
            }
        }
    }
}
