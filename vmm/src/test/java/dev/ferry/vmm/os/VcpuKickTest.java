package dev.ferry.vmm.os;

import com.sun.jna.Memory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VcpuKickTest {

    @Test
    void sigactionLayoutMatchesGlibc() {
        // sizeof/offsetof(struct sigaction) and sizeof(sigset_t) printed by gcc 12.2, glibc 2.36, x86-64.
        assertEquals(0, VcpuKick.SA_HANDLER_OFFSET);
        assertEquals(8, VcpuKick.SA_MASK_OFFSET);
        assertEquals(136, VcpuKick.SA_FLAGS_OFFSET);
        assertEquals(152, VcpuKick.SIGACTION_SIZE);
        assertEquals(128, VcpuKick.SIGSET_SIZE);
    }

    @Test
    void usesTheFirstRealTimeSignalWithAHandlerThatIsNotJava() {
        int signal = VcpuKick.signal();
        assertEquals(LibC.__libc_current_sigrtmin() + VcpuKick.SIGRTMIN_OFFSET, signal);
        assertTrue(signal >= 34 && signal <= 64, "a real-time signal above glibc's reserved ones: " + signal);

        Memory current = new Memory(VcpuKick.SIGACTION_SIZE);
        current.clear();
        assertEquals(0, LibC.sigaction(signal, null, current));
        assertEquals(VcpuKick.handlerAddress(), current.getLong(VcpuKick.SA_HANDLER_OFFSET), "getpid as handler");
        assertTrue((current.getInt(VcpuKick.SA_FLAGS_OFFSET) & LibC.SA_RESTART) != 0, "SA_RESTART");
    }

    @Test
    void bindingUnblocksTheSignalInTheThread() {
        VcpuKick.bindCurrentThread();
        Memory mask = new Memory(VcpuKick.SIGSET_SIZE);
        assertEquals(0, LibC.pthread_sigmask(LibC.SIG_BLOCK, null, mask));
        assertEquals(0, LibC.sigismember(mask, VcpuKick.signal()));
    }

    @Test
    void kicksArrivingWhileTheThreadRunsJavaAreHarmless(@TempDir Path dir) throws Exception {
        AtomicReference<VcpuKick> bound = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch ready = new CountDownLatch(1);
        long[] work = new long[1];
        Thread worker = new Thread(() -> {
            try {
                bound.set(VcpuKick.bindCurrentThread());
                ready.countDown();
                try (FileChannel file = FileChannel.open(dir.resolve("out"), StandardOpenOption.CREATE,
                        StandardOpenOption.WRITE, StandardOpenOption.READ)) {
                    ByteBuffer block = ByteBuffer.allocateDirect(64 * 1024);
                    while (!stop.get()) {
                        // Computation, sleeping (futex) and file I/O, all interrupted by kicks.
                        for (int i = 0; i < 10_000; i++) {
                            work[0] += i ^ work[0];
                        }
                        Thread.sleep(1);
                        block.clear();
                        file.write(block, 0);
                        block.clear();
                        assertEquals(block.capacity(), file.read(block, 0));
                    }
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "kick-target");
        worker.start();
        ready.await();
        VcpuKick kick = bound.get();
        for (int i = 0; i < 2000; i++) {
            kick.kick();
            if (i % 100 == 0) {
                Thread.sleep(1);
            }
        }
        stop.set(true);
        worker.join();
        assertNull(failure.get());
        assertEquals(Threads.processId(), LibC.getpid(), "the process survived");
    }

    @Test
    void kickingAThreadThatHasExitedIsNotAnError() throws InterruptedException {
        AtomicReference<VcpuKick> bound = new AtomicReference<>();
        Thread thread = new Thread(() -> bound.set(VcpuKick.bindCurrentThread()));
        thread.start();
        thread.join();
        bound.get().kick();
    }

    @Test
    void blockingReadsSurviveKicks() throws IOException, InterruptedException {
        // A kick during a blocking pipe read must not surface as an error (SA_RESTART).
        java.nio.channels.Pipe pipe = java.nio.channels.Pipe.open();
        AtomicReference<Object> result = new AtomicReference<>();
        CountDownLatch ready = new CountDownLatch(1);
        AtomicReference<VcpuKick> bound = new AtomicReference<>();
        Thread reader = new Thread(() -> {
            bound.set(VcpuKick.bindCurrentThread());
            ready.countDown();
            try {
                ByteBuffer one = ByteBuffer.allocate(1);
                pipe.source().read(one);
                result.set(one.get(0));
            } catch (IOException e) {
                result.set(e);
            }
        });
        reader.start();
        ready.await();
        for (int i = 0; i < 20; i++) {
            Thread.sleep(5);
            bound.get().kick();
        }
        pipe.sink().write(ByteBuffer.wrap(new byte[] {7}));
        reader.join(5000);
        assertEquals((byte) 7, result.get());
        pipe.source().close();
        pipe.sink().close();
    }
}
