package dev.ferry.migration.session;

import dev.ferry.migration.ram.PageBatch;
import dev.ferry.migration.stream.RecordType;
import dev.ferry.migration.stream.StreamWriter;
import dev.ferry.migration.transport.MigrationChannel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The source side of multifd: RAM records spread round-robin over extra channels, one thread
 * each (staging copy, checksum and send run in parallel). Every channel gets a PASS_END at the
 * end of each pass so the target can keep passes in order (a page sent twice must arrive in the
 * order sent), and END when the RAM is done.
 */
final class RamSenders {

    /** Batches queued per channel: enough to keep its thread busy, little enough to bound memory. */
    static final int QUEUE_DEPTH = 4;

    private sealed interface Item permits Pages, PassEnd, End {}
    private record Pages(PageBatch batch) implements Item {}
    private record PassEnd(int pass) implements Item {}
    private record End() implements Item {}

    private final List<MigrationChannel> channels;
    private final List<BlockingQueue<Item>> queues = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicReference<IOException> failure = new AtomicReference<>();
    /** Bytes of stream all channels have written (query-migrate's multifd-bytes). */
    private final AtomicLong bytesSent = new AtomicLong();
    private final Runnable abortAll;
    /**
     * Batches the channels have written, for reuse: the engine refills its own batch at once,
     * so a queued one is a copy of its entries, and a copy per record would be garbage.
     */
    private final BlockingQueue<PageBatch> freeBatches;
    private int next;

    RamSenders(List<MigrationChannel> channels, Runnable abortAll) {
        this.channels = List.copyOf(channels);
        this.abortAll = abortAll;
        // Every batch is queued, being written, or free: at most QUEUE_DEPTH + 1 per channel.
        this.freeBatches = new ArrayBlockingQueue<>(Math.max(1, this.channels.size() * (QUEUE_DEPTH + 1)));
    }

    void start(long session) {
        int count = channels.size() + 1;
        for (int i = 0; i < channels.size(); i++) {
            BlockingQueue<Item> q = new ArrayBlockingQueue<>(QUEUE_DEPTH);
            queues.add(q);
            MigrationChannel ch = channels.get(i);
            Payloads.Channel id = new Payloads.Channel(session, i + 1, count);
            Thread t = new Thread(() -> sendLoop(ch, id, q), "migration-ram-" + (i + 1));
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    private void sendLoop(MigrationChannel ch, Payloads.Channel id, BlockingQueue<Item> queue) {
        StreamWriter w = new StreamWriter(ch);
        long counted = 0;
        try {
            w.writeHeader();
            w.writeRecord(RecordType.CHANNEL, 0, Payloads.channel(id));
            while (true) {
                Item item = queue.take();
                if (item instanceof Pages p) {
                    w.writeRecord(RecordType.RAM, 0, p.batch());
                    p.batch().clear();
                    freeBatches.offer(p.batch());
                } else if (item instanceof PassEnd p) {
                    w.writeRecord(RecordType.PASS_END, 0, ByteBuffer.allocate(4).putInt(0, p.pass()));
                } else {
                    w.writeRecord(RecordType.END, 0);
                }
                bytesSent.addAndGet(w.bytesWritten() - counted);
                counted = w.bytesWritten();
                if (item instanceof End) {
                    return;
                }
            }
        } catch (IOException | RuntimeException e) {
            // Any failure, checked or not, is recorded: the engine's put() and finish() end
            // only on a recorded failure or on every channel's END.
            failure.compareAndSet(null, new IOException("multifd channel " + id.index() + ": " + e.getMessage(), e));
            abortAll.run();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Bytes of stream the channels have written so far, headers included. */
    long bytesSent() {
        return bytesSent.get();
    }

    /** Queues a copy of {@code batch}'s entries (the pages are read when the channel writes them). */
    void send(PageBatch batch) throws IOException {
        PageBatch copy = freeBatches.poll();
        if (copy == null || copy.capacity() < batch.size()) {
            copy = new PageBatch(batch.capacity());
        }
        copy.copyFrom(batch);
        put(queues.get(next), new Pages(copy));
        next = (next + 1) % queues.size();
    }

    void passEnd(int pass) throws IOException {
        for (BlockingQueue<Item> q : queues) {
            put(q, new PassEnd(pass));
        }
    }

    /** Queues END on every channel: nothing more goes on them. */
    void end() throws IOException {
        for (BlockingQueue<Item> q : queues) {
            put(q, new End());
        }
    }

    /** Waits until every channel has sent everything, END included (see {@link #end()}). */
    void finish() throws IOException, InterruptedException {
        for (Thread t : threads) {
            while (t.isAlive()) {
                t.join(50);
                throwIfFailed();
            }
        }
        throwIfFailed();
    }

    /** Stops the threads (after a failure or cancel; the channels are aborted by the caller). */
    void stop() {
        threads.forEach(Thread::interrupt);
    }

    private void put(BlockingQueue<Item> q, Item item) throws IOException {
        try {
            while (!q.offer(item, 50, TimeUnit.MILLISECONDS)) {
                throwIfFailed();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while queueing RAM");
        }
        throwIfFailed();
    }

    private void throwIfFailed() throws IOException {
        IOException e = failure.get();
        if (e != null) {
            throw e;
        }
    }
}
