package dev.ferry.migration.transport;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A migration channel that also carries file descriptors next to its bytes (SCM_RIGHTS over a
 * unix socket, unix(7)), so that a local migration can hand the guest-RAM memfd to the new VMM
 * process instead of sending the RAM (QEMU's QIOChannel with QIO_CHANNEL_FEATURE_FD_PASS).
 * Descriptors are plain ints: this library makes no system call, the VMM implements the channel.
 */
public interface FdPassingChannel extends MigrationChannel {

    /**
     * Writes all of {@code src} with {@code fds} attached to its first byte (so it must not be
     * empty). The descriptors stay open here: the peer receives its own copies.
     */
    void writeWithFds(ByteBuffer src, int... fds) throws IOException;

    /**
     * The descriptors that arrived with the bytes read so far and were not taken yet, in the
     * order they were sent; the caller owns them from now on. Empty if none came.
     */
    int[] takeFds();
}
