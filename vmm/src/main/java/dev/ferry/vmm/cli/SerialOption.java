package dev.ferry.vmm.cli;

import dev.ferry.vmm.machine.SerialConfig;

import java.nio.file.Path;

/** The {@code -serial} backends Ferry supports, in QEMU's chardev syntax. */
final class SerialOption {
    private SerialOption() {}

    static SerialConfig parse(String value) {
        if (value.equals("stdio") || value.equals("mon:stdio")) {
            return new SerialConfig.Stdio();
        }
        if (value.equals("none") || value.equals("null")) {
            return new SerialConfig.Discard();
        }
        if (value.startsWith("file:")) {
            String path = value.substring("file:".length());
            if (path.isEmpty()) {
                throw new CliException("-serial " + value + ": missing file name");
            }
            return new SerialConfig.File(Path.of(path));
        }
        if (value.startsWith("unix:")) {
            OptionValue v = OptionValue.parse("-serial", value.substring("unix:".length()), "path");
            v.onlyKeys("path", "server", "wait");
            boolean server = v.bool("server", false);
            if (server && v.bool("wait", true)) {
                // QEMU would block until a client connects; Ferry never holds the guest for its console.
                throw new CliException("-serial " + value + ": a server socket needs wait=off");
            }
            return new SerialConfig.UnixSocket(Path.of(v.require("path")), server);
        }
        throw new CliException("-serial " + value + ": unsupported serial backend (use stdio, none, null, "
                + "file:PATH or unix:PATH[,server=on,wait=off])");
    }
}
