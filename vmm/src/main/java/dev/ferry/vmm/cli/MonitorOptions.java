package dev.ferry.vmm.cli;

import dev.ferry.vmm.qmp.MonitorAddress;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * QMP monitors from the command line, in both of QEMU's spellings:
 * {@code -qmp unix:PATH,server=on,wait=off} / {@code -qmp tcp:HOST:PORT,...}, and libvirt's
 * {@code -chardev socket,id=ID,path=PATH,server=on,wait=off -mon chardev=ID,mode=control}.
 * A server that would wait for its first client ({@code wait=on}) holds the guest until a client
 * connects, as in QEMU.
 */
final class MonitorOptions {

    /** A monitor and whether the VMM waits for its first client before starting the guest. */
    record Monitor(MonitorAddress address, boolean waitForClient) {}

    private final Map<String, Monitor> chardevs = new LinkedHashMap<>();
    private final List<Monitor> monitors = new ArrayList<>();

    void qmp(String value) {
        monitors.add(parseSocket("-qmp", value));
    }

    void chardev(String value) {
        OptionValue v = OptionValue.parse("-chardev", value, "backend");
        String backend = v.require("backend");
        if (!backend.equals("socket")) {
            throw new CliException("-chardev " + value + ": backend '" + backend
                    + "' is not supported (Ferry's chardevs are sockets for monitors)");
        }
        v.onlyKeys("backend", "id", "path", "host", "port", "server", "wait", "allow-remote", "telnet");
        String id = v.require("id");
        if (chardevs.containsKey(id)) {
            throw new CliException("-chardev " + value + ": duplicate chardev id '" + id + "'");
        }
        chardevs.put(id, socket("-chardev", value, v, v.get("path"), v.get("host"), v.get("port")));
    }

    void mon(String value) {
        OptionValue v = OptionValue.parse("-mon", value, "chardev");
        v.onlyKeys("chardev", "mode", "pretty", "id");
        String id = v.require("chardev");
        String mode = v.get("mode") == null ? "readline" : v.get("mode");
        if (!mode.equals("control")) {
            throw new CliException("-mon " + value + ": only mode=control (QMP) is supported");
        }
        Monitor m = chardevs.get(id);
        if (m == null) {
            throw new CliException("-mon " + value + ": chardev '" + id + "' not found");
        }
        monitors.add(m);
    }

    List<Monitor> monitors() {
        return List.copyOf(monitors);
    }

    private static Monitor parseSocket(String opt, String value) {
        int colon = value.indexOf(':');
        String scheme = colon < 0 ? "" : value.substring(0, colon);
        String rest = colon < 0 ? "" : value.substring(colon + 1);
        if (scheme.equals("unix")) {
            OptionValue v = OptionValue.parse(opt, rest, "path");
            v.onlyKeys("path", "server", "wait");
            return socket(opt, value, v, v.require("path"), null, null);
        }
        if (scheme.equals("tcp")) {
            List<String> parts = OptionValue.split(rest);
            String hostPort = parts.get(0);
            int c = hostPort.lastIndexOf(':');
            if (c < 0) {
                throw new CliException(opt + " " + value + ": expected tcp:HOST:PORT");
            }
            OptionValue v = OptionValue.parse(opt, rest, "address");
            v.onlyKeys("address", "server", "wait", "allow-remote");
            String host = hostPort.substring(0, c);
            return socket(opt, value, v, null, host.isEmpty() ? "0.0.0.0" : host, hostPort.substring(c + 1));
        }
        throw new CliException(opt + " " + value + ": unsupported monitor address (use unix:PATH,server=on,wait=off "
                + "or tcp:HOST:PORT,server=on,wait=off)");
    }

    private static Monitor socket(String opt, String value, OptionValue v, String path, String host, String port) {
        if (!v.bool("server", false)) {
            throw new CliException(opt + " " + value + ": Ferry's monitors listen: add server=on");
        }
        boolean wait = v.bool("wait", true);
        if (path != null) {
            return new Monitor(new MonitorAddress.Unix(Path.of(path)), wait);
        }
        if (host == null || port == null) {
            throw new CliException(opt + " " + value + ": give path=PATH, or host=HOST and port=PORT");
        }
        int p;
        try {
            p = Integer.parseInt(port);
            if (p < 0 || p > 65535) {
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            throw new CliException(opt + " " + value + ": invalid port '" + port + "'");
        }
        return new Monitor(new MonitorAddress.Tcp(host, p, v.bool("allow-remote", false)), wait);
    }
}
