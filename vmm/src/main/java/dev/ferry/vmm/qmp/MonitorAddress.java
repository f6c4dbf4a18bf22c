package dev.ferry.vmm.qmp;

import java.nio.file.Path;

/** Where a QMP monitor listens: {@code -qmp unix:PATH,...} or {@code -qmp tcp:HOST:PORT,...}. */
public sealed interface MonitorAddress {

    record Unix(Path path) implements MonitorAddress {}

    /** @param allowRemote a non-loopback host was explicitly allowed */
    record Tcp(String host, int port, boolean allowRemote) implements MonitorAddress {}
}
