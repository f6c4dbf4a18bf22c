package dev.ferry.migration.session;

import dev.ferry.migration.config.MachineIdentity;
import dev.ferry.migration.ram.PageExtents;
import dev.ferry.migration.ram.PageSink;
import dev.ferry.migration.state.StateException;

import java.io.IOException;
import java.nio.ByteBuffer;

/** What the target VMM offers an incoming stream. Its guest does not run while the stream loads. */
public interface IncomingMachine {

    /** The target's own configuration, compared with the stream's CONFIG record. */
    MachineIdentity identity();

    /**
     * Sets all guest RAM to zero, cheaply (the source does not send pages it knows are zero).
     * Called once the CONFIG record is accepted, before the first page.
     */
    void clearRam();

    /** Where RAM pages go. */
    PageSink pages();

    /** The number of RAM pages (numbered as the source's {@code GuestPages}: RAM_EXTENTS uses them). */
    long ramPages();

    /**
     * The pages the source's first pass will send (its RAM_EXTENTS record, after
     * {@link #clearRam()}): the machine may allocate their memory ahead of the stream, off the
     * receiving threads, and must stop doing so by the end of the migration or its
     * {@link #switchoverImminent()}, whichever comes first.
     */
    default void allocateAhead(PageExtents extents) { }

    /** The newest version of a device section this VMM reads; StateException for an unknown one. */
    int deviceSectionVersion(String name) throws StateException;

    /** The newest vCPU state version (VCPU record) this VMM reads. */
    int vcpuStateVersion();

    /**
     * Decodes and keeps the state of vCPU {@code index} from its VCPU record, written in
     * {@code version} (a reader may see a newer version whose minimum it meets); throws if the
     * state is malformed. Each index comes at most once per stream, after {@link #clearRam()}.
     */
    void vcpuState(int index, int version, ByteBuffer state) throws StateException;

    /**
     * The source is about to stop its guest (its SYNC before the switchover arrived): what this
     * thread does from now until {@link #load} returns is on the guest's downtime.
     */
    default void switchoverImminent() { }

    /** The number of pages the page-state bitmap covers here. */
    long pageStatePages();

    /** Tells the source that the stream is loaded: the ACK on the return path. */
    @FunctionalInterface
    interface Acknowledgement {
        void send() throws IOException;
    }

    /**
     * Loads the vCPU states received by {@link #vcpuState}, one for every vCPU, and the device
     * and page state into the stopped machine, then sends {@code ack}. Only once that succeeded
     * may the guest run, and the machine may start it in the same step (no hand-over between
     * threads while the guest is stopped everywhere). Throws if the state does not fit or the
     * ACK cannot be sent; the guest must then not run.
     */
    void load(IncomingState state, Acknowledgement ack) throws StateException, IOException;
}
