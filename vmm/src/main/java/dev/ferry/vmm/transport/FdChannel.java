package dev.ferry.vmm.transport;

import dev.ferry.migration.transport.NioMigrationChannel;
import dev.ferry.vmm.os.DescriptorChannel;

/**
 * fd:NAME: a migration channel over a descriptor the management passed with getfd, through
 * the descriptor's libc channel ({@link DescriptorChannel}).
 */
public final class FdChannel extends NioMigrationChannel<DescriptorChannel> {

    /** Takes over {@code fd}: closing the channel closes it. */
    public FdChannel(int fd, String description) {
        super(new DescriptorChannel(fd, description), description);
    }

    /**
     * Shuts the descriptor down instead of closing it: blocked readers and writers wake (end of
     * stream, EPIPE), and the number is not reused while one of them may still call read(2).
     */
    @Override
    public void abort() {
        channel.abort();
    }

    @Override
    public void finishOutput() {
        channel.finishOutput();
    }
}
