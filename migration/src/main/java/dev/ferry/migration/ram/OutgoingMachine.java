package dev.ferry.migration.ram;

import java.io.IOException;

/**
 * The source VMM's guest as the precopy engine drives it around the last pass: stop, resume,
 * final state, throttle (the source's counterpart of session.IncomingMachine).
 */
public interface OutgoingMachine {

    /** Stops the vCPUs (the downtime starts). */
    void stopGuest();

    /** Lets the vCPUs run again: the migration failed or was cancelled before the target took over. */
    void resumeGuest();

    /** Writes vCPU, device and page-state records while the guest is stopped. */
    void writeFinalState(RecordSink sink) throws IOException;

    /** Throttles the vCPUs to {@code percent} of their time stopped (auto-converge); 0 ends it. */
    void throttle(int percent);

    /** A pass over RAM ended (QMP MIGRATION_PASS). */
    default void passCompleted(int pass) { }
}
