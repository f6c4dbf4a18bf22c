package dev.ferry.migration.transport;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;

/** tcp: and unix: connections: the source connects, the target listens and accepts. */
public final class SocketTransport {
    private SocketTransport() {}

    /** Connects to a listening target; tcp: with TCP_NODELAY so the last records are not held back. */
    public static MigrationChannel connect(MigrationUri uri) throws IOException {
        SocketChannel s;
        if (uri instanceof MigrationUri.Tcp t) {
            s = SocketChannel.open(new InetSocketAddress(t.host(), t.port()));
            s.socket().setTcpNoDelay(true);
        } else if (uri instanceof MigrationUri.Unix u) {
            s = SocketChannel.open(UnixDomainSocketAddress.of(u.path()));
        } else {
            throw new IllegalArgumentException(uri + " is not a socket address");
        }
        return new SocketMigrationChannel(s, uri.toString());
    }

    /** Listens on a tcp: or unix: address (a stale unix socket file is replaced, as QEMU does). */
    public static Listener listen(MigrationUri uri) throws IOException {
        ServerSocketChannel server;
        if (uri instanceof MigrationUri.Tcp t) {
            server = ServerSocketChannel.open();
            server.setOption(java.net.StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(new InetSocketAddress(t.host(), t.port()), 8);
        } else if (uri instanceof MigrationUri.Unix u) {
            Files.deleteIfExists(u.path());
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(u.path()), 8);
        } else {
            throw new IllegalArgumentException(uri + " is not a socket address");
        }
        return new Listener(server, uri);
    }

    /** A listening socket for incoming migration connections. */
    public static final class Listener implements AutoCloseable {
        private final ServerSocketChannel server;
        private final MigrationUri uri;

        private Listener(ServerSocketChannel server, MigrationUri uri) {
            this.server = server;
            this.uri = uri;
        }

        /** The address actually bound (a tcp: port 0 gets its real port). */
        public MigrationUri boundUri() throws IOException {
            SocketAddress a = server.getLocalAddress();
            if (a instanceof InetSocketAddress i && uri instanceof MigrationUri.Tcp t) {
                return new MigrationUri.Tcp(t.host(), i.getPort());
            }
            return uri;
        }

        /** Blocks for the next connection; fails once {@link #close()} was called. */
        public MigrationChannel accept() throws IOException {
            SocketChannel s = server.accept();
            if (uri instanceof MigrationUri.Tcp) {
                s.socket().setTcpNoDelay(true);
            }
            return new SocketMigrationChannel(s, uri.toString());
        }

        @Override
        public void close() {
            try {
                server.close();
            } catch (IOException e) {
                // already closed
            }
            if (uri instanceof MigrationUri.Unix u) {
                try {
                    Files.deleteIfExists(u.path());
                } catch (IOException e) {
                    // leave it; the next listen replaces it
                }
            }
        }
    }
}
