package dev.ferry.migration.transport;

import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;

/**
 * One connection (or file) carrying a migration stream; for sockets also the return path in the
 * other direction. Writes are gathering so RAM records go out in one system call each.
 */
public interface MigrationChannel extends ByteChannel, GatheringByteChannel {

    /**
     * Makes reads and writes blocked in other threads fail at once (migrate_cancel, a refusal
     * read on the return path). The channel must still be closed.
     */
    void abort();

    /**
     * Sends end-of-stream after what was written (shutdown(SHUT_WR) on a socket), so the peer
     * reads everything before it sees the end; reading goes on.
     */
    default void finishOutput() throws java.io.IOException { }

    /** Whether the peer can answer on this channel (sockets); a file cannot. */
    default boolean hasReturnPath() {
        return true;
    }

    /** Makes what was written durable (a file); nothing to do for a connection. */
    default void sync() throws java.io.IOException { }

    /** A short description for messages, e.g. "tcp:127.0.0.1:4444". */
    String describe();
}
