package dev.ferry.vmm.qmp.command;

import dev.ferry.migration.transport.MigrationUri;
import dev.ferry.vmm.os.LibC;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpException;

/** Migration URIs in QMP commands: parse errors and fd:NAME lookups with QEMU's messages. */
final class MigrationUris {
    private MigrationUris() {}

    static MigrationUri parse(String text) {
        try {
            return MigrationUri.parse(text);
        } catch (IllegalArgumentException e) {
            throw new QmpException(e.getMessage());
        }
    }

    /**
     * For fd:NAME, takes the descriptor the client named with getfd on this connection (the
     * migration owns it from now on); -1 for other URIs.
     */
    static int takeFd(QmpCall call, MigrationUri uri) {
        if (!(uri instanceof MigrationUri.Fd f)) {
            return -1;
        }
        if (!call.fds().has(f.name())) {
            throw new QmpException("File descriptor named '" + f.name() + "' has not been found");
        }
        return call.fds().take(f.name());
    }

    static void closeFd(int fd) {
        if (fd >= 0) {
            LibC.close(fd);
        }
    }
}
