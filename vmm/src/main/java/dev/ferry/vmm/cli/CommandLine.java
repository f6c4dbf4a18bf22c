package dev.ferry.vmm.cli;

import dev.ferry.migration.transport.MigrationUri;
import dev.ferry.vmm.device.FwCfg;
import dev.ferry.vmm.machine.MachineConfig;
import dev.ferry.vmm.machine.SerialConfig;
import dev.ferry.vmm.memory.MemoryLayout;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parses QEMU-style options into a {@link MachineConfig}. Options are accepted with one or two
 * leading dashes, as QEMU does. Errors name the option and value, in QEMU's manner:
 * {@code ferry: -m foo: invalid RAM size 'foo'}.
 */
public final class CommandLine {

    /** Options that take an argument. */
    private static final Set<String> WITH_ARGUMENT = Set.of("m", "smp", "kernel", "append", "fw_cfg", "serial",
            "name", "pidfile", "accel", "machine", "M", "cpu", "display", "qmp", "chardev", "mon", "incoming");
    /** Options that stand alone. */
    private static final Set<String> FLAGS = Set.of("nographic", "no-reboot", "enable-kvm", "S", "version", "h",
            "help", "nodefaults");
    /** Machine types a QEMU user may name; Ferry has one PC-like machine for all of them. */
    private static final Set<String> MACHINE_TYPES = Set.of("ferry", "pc", "q35", "microvm");

    private long memory = MachineConfig.DEFAULT_MEMORY;
    private int cpus = 1;
    private Path kernel;
    private String append = "";
    private final List<MachineConfig.FwCfgFile> fwCfg = new ArrayList<>();
    private SerialConfig serial;
    private String name;
    private Path pidfile;
    private boolean noReboot;
    private boolean startPaused;
    private final MonitorOptions monitors = new MonitorOptions();
    private CliRequest.Incoming incoming;

    private CommandLine() {}

    public static CliRequest parse(String... args) {
        return new CommandLine().run(args);
    }

    private CliRequest run(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("-") || arg.equals("-") || arg.equals("--")) {
                throw new CliException(arg + ": invalid option (options start with '-'; see -help)");
            }
            String opt = arg.startsWith("--") ? arg.substring(2) : arg.substring(1);
            if (FLAGS.contains(opt)) {
                CliRequest r = flag(opt);
                if (r != null) {
                    return r;
                }
            } else if (WITH_ARGUMENT.contains(opt)) {
                if (i + 1 >= args.length) {
                    throw new CliException("-" + opt + ": requires an argument");
                }
                withArgument(opt, args[++i]);
            } else {
                throw new CliException("-" + opt + ": invalid option");
            }
        }
        SerialConfig s = serial != null ? serial : new SerialConfig.Stdio();
        try {
            return new CliRequest.Run(new MachineConfig(name, memory, cpus, kernel, append, fwCfg, s, noReboot,
                    startPaused, pidfile), monitors.monitors().stream().map(MonitorOptions.Monitor::address).toList(),
                    monitors.monitors().stream().anyMatch(MonitorOptions.Monitor::waitForClient), incoming);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
    }

    private CliRequest flag(String opt) {
        switch (opt) {
            case "version" -> {
                return new CliRequest.ShowVersion();
            }
            case "h", "help" -> {
                return new CliRequest.ShowHelp();
            }
            case "no-reboot" -> noReboot = true;
            case "S" -> startPaused = true;
            // -nographic: the serial port on stdio is already the default; KVM is the only
            // accelerator; there are no default devices to drop.
            case "nographic", "enable-kvm", "nodefaults" -> { }
            default -> throw new IllegalStateException(opt);
        }
        return null;
    }

    private void withArgument(String opt, String value) {
        switch (opt) {
            case "m" -> memory = memorySize(value);
            case "smp" -> cpus = smp(value);
            case "kernel" -> kernel = Path.of(value);
            case "append" -> append = value;
            case "fw_cfg" -> fwCfg.add(fwCfg(value));
            case "serial" -> serial = SerialOption.parse(value);
            case "name" -> name = guestName(value);
            case "pidfile" -> pidfile = Path.of(value);
            case "accel" -> accel(value);
            case "machine", "M" -> machine(opt, value);
            case "cpu" -> cpu(value);
            case "display" -> display(value);
            case "qmp" -> monitors.qmp(value);
            case "chardev" -> monitors.chardev(value);
            case "mon" -> monitors.mon(value);
            case "incoming" -> incoming = incoming(value);
            default -> throw new IllegalStateException(opt);
        }
    }

    static CliRequest.Incoming incoming(String value) {
        if (value.equals("defer")) {
            return new CliRequest.Incoming(null);
        }
        try {
            var uri = MigrationUri.parse(value);
            if (uri instanceof MigrationUri.Fd) {
                // QEMU takes an inherited descriptor number here; Ferry takes fds over QMP only.
                throw new CliException("-incoming " + value + ": fd: is only available through QMP "
                        + "(use -incoming defer, getfd and migrate-incoming)");
            }
            return new CliRequest.Incoming(uri);
        } catch (IllegalArgumentException e) {
            throw new CliException("-incoming " + value + ": " + e.getMessage());
        }
    }

    static long memorySize(String value) {
        OptionValue v = OptionValue.parse("-m", value, "size");
        v.onlyKeys("size");
        String size = v.require("size");
        long bytes;
        try {
            bytes = Sizes.parse(size, 1L << 20);
        } catch (NumberFormatException e) {
            throw new CliException("-m " + value + ": invalid RAM size '" + size + "'");
        }
        if (bytes < MemoryLayout.MIN_RAM) {
            throw new CliException("-m " + value + ": RAM size must be at least 16 MiB");
        }
        // Round up to 2 MiB as QEMU rounds RAM to its page granularity; 2 MiB keeps huge pages usable.
        long mib2 = 2L << 20;
        return (bytes + mib2 - 1) / mib2 * mib2;
    }

    static int smp(String value) {
        OptionValue v = OptionValue.parse("-smp", value, "cpus");
        v.onlyKeys("cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads");
        Map<String, Integer> n = new HashMap<>();
        for (String k : List.of("cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads")) {
            String s = v.get(k);
            if (s != null) {
                try {
                    int x = Integer.parseInt(s);
                    if (x < 1) {
                        throw new NumberFormatException();
                    }
                    n.put(k, x);
                } catch (NumberFormatException e) {
                    throw new CliException("-smp " + value + ": '" + k + "' expects a positive number, not '" + s + "'");
                }
            }
        }
        int topology = n.getOrDefault("sockets", 1) * n.getOrDefault("dies", 1) * n.getOrDefault("clusters", 1)
                * n.getOrDefault("cores", 1) * n.getOrDefault("threads", 1);
        int count = n.getOrDefault("cpus", topology);
        int max = n.getOrDefault("maxcpus", count);
        if (max != count) {
            throw new CliException("-smp " + value + ": CPU hotplug (maxcpus above cpus) is not supported");
        }
        if (count > MachineConfig.MAX_CPUS) {
            throw new CliException("-smp " + value + ": at most " + MachineConfig.MAX_CPUS + " vCPUs are supported");
        }
        return count;
    }

    static MachineConfig.FwCfgFile fwCfg(String value) {
        OptionValue v = OptionValue.parse("-fw_cfg", value, "name");
        v.onlyKeys("name", "file", "string");
        String n = v.require("name");
        boolean hasFile = v.has("file");
        boolean hasString = v.has("string");
        if (hasFile == hasString) {
            throw new CliException("-fw_cfg " + value + ": give exactly one of 'file' and 'string'");
        }
        if (!n.startsWith("opt/")) {
            // QEMU warns for the same reason: other names belong to the firmware.
            System.err.println("ferry: warning: -fw_cfg name '" + n + "' does not start with 'opt/'");
        }
        if (n.length() > FwCfg.FILE_NAME_MAX) {
            throw new CliException("-fw_cfg " + value + ": name is longer than "
                    + FwCfg.FILE_NAME_MAX + " bytes");
        }
        return hasString ? new MachineConfig.FwCfgFile(n, v.get("string"), null)
                : new MachineConfig.FwCfgFile(n, null, Path.of(v.require("file")));
    }

    static String guestName(String value) {
        OptionValue v = OptionValue.parse("-name", value, "guest");
        v.onlyKeys("guest", "process", "debug-threads");
        return v.require("guest");
    }

    static void accel(String value) {
        OptionValue v = OptionValue.parse("-accel", value, "accel");
        String a = v.require("accel");
        if (!a.equals("kvm")) {
            throw new CliException("-accel " + value + ": accelerator '" + a + "' is not available (Ferry runs on KVM only)");
        }
    }

    static void machine(String opt, String value) {
        OptionValue v = OptionValue.parse("-" + opt, value, "type");
        v.onlyKeys("type", "accel");
        String type = v.get("type");
        if (type != null && !MACHINE_TYPES.contains(type) && !type.startsWith("pc-")) {
            throw new CliException("-" + opt + " " + value + ": unsupported machine type '" + type
                    + "' (Ferry provides one PC-like machine; use 'ferry', 'pc', 'q35' or 'microvm')");
        }
        String accel = v.get("accel");
        if (accel != null && !accel.equals("kvm")) {
            throw new CliException("-" + opt + " " + value + ": accelerator '" + accel + "' is not available");
        }
    }

    static void cpu(String value) {
        List<String> parts = OptionValue.split(value);
        String model = parts.get(0);
        if (!model.equals("host") && !model.equals("max")) {
            throw new CliException("-cpu " + value + ": unsupported CPU model '" + model
                    + "' (Ferry passes the host CPU through: use 'host')");
        }
        for (String p : parts.subList(1, parts.size())) {
            if (!p.matches("[+-][A-Za-z0-9_.-]+|[A-Za-z0-9_.-]+=(on|off)")) {
                throw new CliException("-cpu " + value + ": invalid CPU feature '" + p + "'");
            }
        }
    }

    static void display(String value) {
        if (!OptionValue.split(value).get(0).equals("none")) {
            throw new CliException("-display " + value + ": only 'none' is supported (Ferry has no display)");
        }
    }
}
