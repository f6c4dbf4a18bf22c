package dev.ferry.migration.transport;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/** A migration connection over a TCP or unix-domain socket (java.nio, blocking). */
final class SocketMigrationChannel extends NioMigrationChannel<SocketChannel> {

    SocketMigrationChannel(SocketChannel socket, String description) {
        super(socket, description);
    }

    @Override
    public void finishOutput() throws IOException {
        channel.shutdownOutput();
    }
}
