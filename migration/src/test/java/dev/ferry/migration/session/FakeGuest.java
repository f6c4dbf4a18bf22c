package dev.ferry.migration.session;

import dev.ferry.migration.config.MachineIdentity;
import dev.ferry.migration.ram.DirtyLog;
import dev.ferry.migration.ram.GuestPages;
import dev.ferry.migration.ram.OutgoingMachine;
import dev.ferry.migration.ram.PageExtents;
import dev.ferry.migration.ram.PageSink;
import dev.ferry.migration.ram.RecordSink;
import dev.ferry.migration.state.StateException;
import dev.ferry.migration.state.StateSection;
import dev.ferry.migration.state.StateSectionCodec;
import dev.ferry.migration.stream.RecordType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A source guest for session tests: a thread rewrites pages of direct memory and marks them in
 * a dirty log, as KVM does, until the session stops it. Its "vCPU" state is the number of writes
 * it has done, so the target can check it got the state of the stopped guest.
 */
final class FakeGuest implements GuestPages, DirtyLog, OutgoingMachine {

    static final int PAGE = 4096;
    final int pages;
    final ByteBuffer memory;
    private final AtomicLongArray dirty;
    private volatile boolean logging;
    private volatile boolean running = true;
    private volatile boolean stopped;
    volatile int resumes;
    volatile int throttle;
    private long writes;
    private final Thread thread;
    private final Object gate = new Object();

    FakeGuest(int pages, int workingSet) {
        this.pages = pages;
        this.memory = ByteBuffer.allocateDirect(pages * PAGE);
        this.dirty = new AtomicLongArray((pages + 63) / 64);
        for (int p = 0; p < pages; p += 3) {
            memory.putLong(p * PAGE, 0xF0F0_0000L + p);
        }
        thread = new Thread(() -> {
            while (true) {
                synchronized (gate) {
                    while (!running) {
                        stopped = true;
                        gate.notifyAll();
                        try {
                            gate.wait();
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                    stopped = false;
                    int p = (int) (writes % workingSet);
                    memory.putLong(p * PAGE + 8, ++writes);
                    if (logging) {
                        dirty.getAndUpdate(p >>> 6, w -> w | (1L << p));
                    }
                }
                if (writes % 64 == 0) {
                    Thread.onSpinWait();
                }
            }
        }, "fake-guest");
        thread.setDaemon(true);
        thread.start();
    }

    MachineIdentity identity() {
        return new MachineIdentity((long) pages * PAGE, 1, "none", "abc");
    }

    long writes() {
        synchronized (gate) {
            return writes;
        }
    }

    boolean running() {
        return running;
    }

    void kill() {
        thread.interrupt();
    }

    @Override
    public long pageCount() {
        return pages;
    }

    @Override
    public long address(long index) {
        return index * PAGE;
    }

    @Override
    public ByteBuffer block(long index) {
        return memory;
    }

    @Override
    public int offsetInBlock(long index) {
        return (int) (index * PAGE);
    }

    @Override
    public void start() {
        logging = true;
    }

    @Override
    public long[] fetchAndClear() {
        long[] out = new long[dirty.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = dirty.getAndSet(i, 0);
        }
        return out;
    }

    @Override
    public void stop() {
        logging = false;
    }

    @Override
    public void stopGuest() {
        synchronized (gate) {
            running = false;
            while (!stopped) {
                try {
                    gate.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    @Override
    public void resumeGuest() {
        synchronized (gate) {
            resumes++;
            running = true;
            gate.notifyAll();
        }
    }

    @Override
    public void writeFinalState(RecordSink sink) throws IOException {
        // The fake vCPU state: how many writes the guest made (version 1, opaque to the session).
        sink.write(RecordType.VCPU, Payloads.vcpu(0, 1, 1, ByteBuffer.allocate(8).putLong(0, writes())));
        sink.write(RecordType.DEVICE, ByteBuffer.wrap(StateSectionCodec.encode(new StateSection("serial0", 1, 1,
                StateSectionCodec.stateOf(Map.of("lcr", 3)), Map.of()))));
        Payloads.pageStates(pages, new long[(pages + 63) / 64]).writeTo(sink);
    }

    @Override
    public void throttle(int percent) {
        throttle = percent;
    }

    /** The target: RAM of the same size, and what load() was given. */
    static final class Target implements IncomingMachine, PageSink {
        final ByteBuffer memory;
        final MachineIdentity identity;
        volatile IncomingState loaded;
        /** vCPU 0's state (the source's write count) as its VCPU record arrived; -1 before. */
        volatile long vcpuWrites = -1;
        /** How often the target heard that the switchover is imminent, and how many before load(). */
        final java.util.concurrent.atomic.AtomicInteger warnings = new java.util.concurrent.atomic.AtomicInteger();
        volatile int warningsBeforeLoad = -1;

        Target(MachineIdentity identity) {
            this.identity = identity;
            this.memory = ByteBuffer.allocateDirect((int) identity.ramBytes());
        }

        @Override
        public MachineIdentity identity() {
            return identity;
        }

        @Override
        public void clearRam() {
            memory.clear();
            memory.put(new byte[memory.capacity()]);
            memory.clear();
        }

        @Override
        public PageSink pages() {
            return this;
        }

        /** The RAM_EXTENTS the source sent, as allocateAhead was given them; null before. */
        volatile PageExtents extents;

        @Override
        public long ramPages() {
            return identity.ramBytes() / 4096;
        }

        @Override
        public void allocateAhead(PageExtents extents) {
            this.extents = extents;
        }

        @Override
        public int deviceSectionVersion(String name) throws StateException {
            if (!List.of("serial0").contains(name)) {
                throw new StateException("unknown device section '" + name + "'");
            }
            return 1;
        }

        @Override
        public int vcpuStateVersion() {
            return 1;
        }

        @Override
        public void vcpuState(int index, int version, ByteBuffer state) throws StateException {
            if (state.remaining() != 8) {
                throw new StateException("fake vCPU state has " + state.remaining() + " bytes, not 8");
            }
            vcpuWrites = state.getLong(state.position());
        }

        @Override
        public long pageStatePages() {
            return identity.ramBytes() / PAGE;
        }

        @Override
        public void switchoverImminent() {
            warnings.incrementAndGet();
        }

        @Override
        public void load(IncomingState state, Acknowledgement ack) throws IOException {
            warningsBeforeLoad = warnings.get();
            loaded = state;
            ack.send();
        }

        @Override
        public boolean isRam(long gpa) {
            return gpa >= 0 && gpa + PAGE <= memory.capacity();
        }

        @Override
        public void write(long gpa, ByteBuffer page) {
            memory.put((int) gpa, page, page.position(), PAGE);
        }

        @Override
        public void zero(long gpa) {
            memory.put((int) gpa, new byte[PAGE]);
        }
    }
}
