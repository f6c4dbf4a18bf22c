package dev.ferry.vmm.os;

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
}
