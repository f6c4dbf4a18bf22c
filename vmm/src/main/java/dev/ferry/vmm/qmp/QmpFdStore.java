package dev.ferry.vmm.qmp;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;

/**
 * Descriptors received on one monitor connection. QEMU's model (qmp-spec.rst, getfd): the
 * client sends a descriptor with SCM_RIGHTS, on the command's own bytes or on earlier bytes, and
 * the next {@code getfd} names the most recently received one; named descriptors live until
 * {@code closefd} or until the connection closes.
 */
public final class QmpFdStore {

    private final Deque<Integer> received = new ArrayDeque<>();
    private final Map<String, Integer> named = new HashMap<>();
    private final IntConsumer closer;
    private volatile BooleanSupplier backlog = () -> false;

    /** @param closer closes a descriptor (libc close) */
    public QmpFdStore(IntConsumer closer) {
        this.closer = closer;
    }

    /**
     * How the transport says its client is behind on reading (the unix bridge's own buffer,
     * which Netty's channel writability does not see).
     */
    public void setBacklogSignal(BooleanSupplier signal) {
        backlog = signal;
    }

    public boolean backlogged() {
        return backlog.getAsBoolean();
    }

    public synchronized void received(int fd) {
        received.addLast(fd);
    }

    /** Fails as QEMU does when no descriptor came with SCM_RIGHTS. */
    public synchronized void requireReceived() {
        if (received.isEmpty()) {
            throw new QmpException("No file descriptor supplied via SCM_RIGHTS");
        }
    }

    /** Takes the most recently received descriptor, for add-fd. */
    public synchronized int takeReceived() {
        requireReceived();
        return received.pollLast();
    }

    /** Names the last received descriptor; replaces (and closes) an older one of that name. */
    public synchronized void name(String name) {
        Integer fd = received.pollLast();
        if (fd == null) {
            throw new QmpException("No file descriptor supplied via SCM_RIGHTS");
        }
        Integer old = named.put(name, fd);
        if (old != null) {
            closer.accept(old);
        }
    }

    /** Takes ownership of a named descriptor away from the store (e.g. for migrate fd:NAME). */
    public synchronized int take(String name) {
        Integer fd = named.remove(name);
        if (fd == null) {
            throw new QmpException("File descriptor named '" + name + "' not found");
        }
        return fd;
    }

    public synchronized void close(String name) {
        closer.accept(take(name));
    }

    public synchronized boolean has(String name) {
        return named.containsKey(name);
    }

    /** The connection closed: every descriptor it still holds is closed. */
    public synchronized void closeAll() {
        received.forEach(closer::accept);
        named.values().forEach(closer::accept);
        received.clear();
        named.clear();
    }
}
