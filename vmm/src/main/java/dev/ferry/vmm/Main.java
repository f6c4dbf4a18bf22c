package dev.ferry.vmm;

import dev.ferry.vmm.boot.BootException;
import dev.ferry.vmm.cli.CliException;
import dev.ferry.vmm.cli.CliRequest;
import dev.ferry.vmm.cli.CommandLine;
import dev.ferry.vmm.hypervisor.HypervisorException;
import dev.ferry.vmm.hypervisor.kvm.Kvm;
import dev.ferry.vmm.log.Log;
import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.MachineConfig;
import dev.ferry.vmm.machine.migration.MigrationController;
import dev.ferry.vmm.machine.migration.MigrationRequestException;
import dev.ferry.vmm.qmp.MonitorAddress;
import dev.ferry.vmm.qmp.QmpServer;
import dev.ferry.vmm.qmp.QmpServerInfo;
import dev.ferry.vmm.qmp.command.FerryCommands;
import dev.ferry.vmm.qmpclient.MigrateCommand;
import dev.ferry.vmm.qmpclient.QmpShell;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;

/** {@code ferry [QEMU-style options]}: builds the machine from the command line and runs it. */
public final class Main {

    public static final String VERSION = "0.1.0";
    /** Exit status for command-line and start-up errors, as QEMU uses. */
    static final int EXIT_ERROR = 1;
    /** The migration rehearsal of a booting machine waits this long, to stay out of the boot's way. */
    static final long REHEARSAL_DELAY_MS = 1_000;

    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        if (args.length > 0 && args[0].equals("qmp")) {
            // 'ferry qmp SOCKET ...': the management client, not a VMM.
            return QmpShell.run(Arrays.copyOfRange(args, 1, args.length), System.out, System.err);
        }
        if (args.length > 0 && args[0].equals("migrate")) {
            return MigrateCommand.run(Arrays.copyOfRange(args, 1, args.length), System.out, System.err);
        }
        CliRequest request;
        try {
            request = CommandLine.parse(args);
        } catch (CliException e) {
            Log.info(e.getMessage());
            return EXIT_ERROR;
        }
        if (request instanceof CliRequest.ShowVersion) {
            System.out.println("Ferry " + VERSION + " (QEMU-compatible command line and QMP; KVM only)");
            return 0;
        }
        if (request instanceof CliRequest.ShowHelp) {
            System.out.print(Usage.TEXT);
            return 0;
        }
        return runMachine((CliRequest.Run) request);
    }

    private static String describe(MonitorAddress m) {
        return m instanceof MonitorAddress.Unix u ? "unix:" + u.path()
                : "tcp:" + ((MonitorAddress.Tcp) m).host() + ":" + ((MonitorAddress.Tcp) m).port();
    }

    private static int runMachine(CliRequest.Run run) {
        MachineConfig config = run.config();
        Kvm kvm;
        try {
            kvm = Kvm.open();
        } catch (HypervisorException e) {
            Log.info("cannot use KVM: " + e.getMessage());
            return EXIT_ERROR;
        }
        Machine machine;
        try {
            machine = Machine.create(config, kvm);
        } catch (BootException | HypervisorException | IllegalArgumentException e) {
            Log.info(e.getMessage());
            kvm.close();
            return EXIT_ERROR;
        } catch (IOException e) {
            Log.info("cannot create the machine: " + e.getMessage());
            kvm.close();
            return EXIT_ERROR;
        }
        Path pidfile = config.pidfile();
        QmpServer qmp = null;
        MigrationController migration = new MigrationController(machine,
                run.incoming() != null && run.incoming().deferred());
        try {
            if (!run.monitors().isEmpty()) {
                QmpServerInfo info = QmpServerInfo.FERRY;
                qmp = new QmpServer(machine, migration, info, FerryCommands.registry(info));
                for (MonitorAddress m : run.monitors()) {
                    try {
                        qmp.listen(m);
                    } catch (RuntimeException e) {
                        Log.info("cannot open QMP monitor " + describe(m) + ": " + e.getMessage());
                        return EXIT_ERROR;
                    }
                }
            }
            if (pidfile != null) {
                Files.writeString(pidfile, ProcessHandle.current().pid() + "\n", StandardCharsets.US_ASCII);
            }
            Thread hook = new Thread(() -> {
                // SIGTERM/SIGINT: power the machine off cleanly, as QEMU does on a signal.
                if (!machine.exitStatus().isDone()) {
                    Log.info("terminating on signal");
                    try {
                        machine.quit("host-signal").get();
                    } catch (Exception e) {
                        Log.debug("shutdown on signal: " + e);
                    }
                }
            }, "shutdown-hook");
            Runtime.getRuntime().addShutdownHook(hook);
            if (run.waitForMonitor() && qmp != null) {
                // QEMU's wait=on: the guest starts once a client is there to see it.
                Log.info("waiting for a QMP client to connect (wait=on)");
                qmp.firstConnection().join();
            }
            if (run.incoming() == null) {
                machine.start();
                migration.rehearseAfter(REHEARSAL_DELAY_MS);
            } else {
                machine.startIncoming().get();
                migration.rehearseAfter(0);
                if (!run.incoming().deferred()) {
                    try {
                        migration.listen(run.incoming().uri(), -1, true);
                    } catch (MigrationRequestException e) {
                        Log.info("-incoming " + run.incoming().uri() + ": " + e.getMessage());
                        machine.quit("host-error");
                        return EXIT_ERROR;
                    }
                }
            }
            int status = machine.exitStatus().join();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down
            }
            return status;
        } catch (IOException e) {
            Log.info("cannot write pidfile '" + pidfile + "': " + e.getMessage());
            return EXIT_ERROR;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return EXIT_ERROR;
        } catch (ExecutionException e) {
            Log.info("cannot start the machine: " + e.getCause());
            return EXIT_ERROR;
        } finally {
            migration.close();
            if (qmp != null) {
                qmp.close();
            }
            machine.close();
            kvm.close();
            if (pidfile != null) {
                try {
                    Files.deleteIfExists(pidfile);
                } catch (IOException e) {
                    Log.debug("removing pidfile: " + e);
                }
            }
        }
    }
}
