package dev.ferry.migration.transport;

import java.nio.file.Path;

/**
 * Where a migration stream goes or comes from, in QEMU's URI syntax (qapi/migration.json,
 * migrate "uri"): {@code tcp:HOST:PORT}, {@code unix:PATH}, {@code fd:NAME} (a socket the
 * management passed with getfd) and {@code file:PATH} (save to / restore from a file).
 */
public sealed interface MigrationUri {

    record Tcp(String host, int port) implements MigrationUri {
        @Override
        public String toString() {
            return "tcp:" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }
    }

    record Unix(Path path) implements MigrationUri {
        @Override
        public String toString() {
            return "unix:" + path;
        }
    }

    record Fd(String name) implements MigrationUri {
        @Override
        public String toString() {
            return "fd:" + name;
        }
    }

    record File(Path path) implements MigrationUri {
        @Override
        public String toString() {
            return "file:" + path;
        }
    }

    /** Whether the transport has a return path (a file has none). */
    default boolean bidirectional() {
        return !(this instanceof File);
    }

    /** Parses a URI; the message of the exception is fit for a QMP error. */
    static MigrationUri parse(String uri) {
        int colon = uri.indexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("Invalid migration URI '" + uri
                    + "': expected tcp:HOST:PORT, unix:PATH, fd:NAME or file:PATH");
        }
        String scheme = uri.substring(0, colon);
        String rest = uri.substring(colon + 1);
        return switch (scheme) {
            case "tcp" -> tcp(uri, rest);
            case "unix" -> {
                if (rest.isEmpty()) {
                    throw new IllegalArgumentException("Invalid migration URI '" + uri + "': empty socket path");
                }
                yield new Unix(Path.of(rest));
            }
            case "fd" -> {
                if (rest.isEmpty()) {
                    throw new IllegalArgumentException("Invalid migration URI '" + uri + "': empty descriptor name");
                }
                yield new Fd(rest);
            }
            case "file" -> {
                // QEMU 8's file: also takes ",offset=N"; Ferry writes whole files only.
                if (rest.isEmpty() || rest.contains(",")) {
                    throw new IllegalArgumentException("Invalid migration URI '" + uri + "': expected file:PATH");
                }
                yield new File(Path.of(rest));
            }
            case "exec", "rdma" -> throw new IllegalArgumentException("Migration URI scheme '" + scheme
                    + "' is not supported by Ferry (use tcp:, unix:, fd: or file:)");
            default -> throw new IllegalArgumentException("Invalid migration URI '" + uri
                    + "': unknown scheme '" + scheme + "'");
        };
    }

    private static Tcp tcp(String uri, String rest) {
        String host;
        String port;
        if (rest.startsWith("[")) {
            int close = rest.indexOf(']');
            if (close < 0 || close + 1 >= rest.length() || rest.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("Invalid migration URI '" + uri + "': expected tcp:[HOST]:PORT");
            }
            host = rest.substring(1, close);
            port = rest.substring(close + 2);
        } else {
            int last = rest.lastIndexOf(':');
            if (last < 0) {
                throw new IllegalArgumentException("Invalid migration URI '" + uri + "': expected tcp:HOST:PORT");
            }
            host = rest.substring(0, last);
            port = rest.substring(last + 1);
        }
        // QEMU strips socket options such as ",to=..." or ",ipv4"; Ferry accepts none.
        int p;
        try {
            p = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Invalid migration URI '" + uri + "': port '" + port
                    + "' is not a number");
        }
        if (p < 0 || p > 65535) {
            throw new IllegalArgumentException("Invalid migration URI '" + uri + "': port " + p + " is out of range");
        }
        return new Tcp(host.isEmpty() ? "0.0.0.0" : host, p);
    }
}
