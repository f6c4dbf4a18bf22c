package dev.ferry.vmm.it;

import dev.ferry.vmm.testing.FerryProcess;
import dev.ferry.vmm.testing.KvmAvailability;
import dev.ferry.vmm.testing.MigrationPair;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 'ferry migrate' as an operator runs it: a separate process driving a source and a target
 * (started with -incoming defer) through their QMP monitors. The target's guest goes on from
 * the source's last heartbeat; a mismatched target fails with the reason and leaves the source
 * running; Ctrl-C cancels.
 */
@Tag("kvm")
class MigrateCommandIT {

    static final String[] GUEST = {"-m", "96M", "-smp", "2", "-nographic", "-append", "mem=24 rate=32 hb=100"};
    static final Duration T = MigrationPair.T;

    @BeforeAll
    static void kvm() {
        KvmAvailability.assumeKvm();
    }

    /** A second monitor on the target for 'ferry migrate', next to the one MigrationPair uses. */
    private static String[] monitor(Path sock) {
        return new String[] {"-qmp", "unix:" + sock + ",server=on,wait=off"};
    }

    private static FerryProcess migrate(Path dir, Path target, String... options) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-jar", FerryProcess.jar().toString(), "migrate",
                "--from", dir.resolve("src.sock").toString(), "--to", target.toString()));
        cmd.addAll(List.of(options));
        return FerryProcess.start(cmd);
    }

    private static void awaitSocket(Path sock) throws InterruptedException {
        long deadline = System.nanoTime() + T.toNanos();
        while (!Files.exists(sock) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    @Test
    void migratesOverASocketPairAndTheGuestGoesOnOnTheTarget(@TempDir Path dir) throws Exception {
        try (MigrationPair p = MigrationPair.start(dir, GUEST)) {
            Path sock = dir.resolve("target-cli.sock");
            p.startTarget("defer", monitor(sock));
            awaitSocket(sock);
            try (FerryProcess cli = migrate(dir, sock)) {
                int status = cli.awaitExit(T);
                String out = cli.output();
                assertEquals(0, status, out);
                assertTrue(out.contains("over a socket pair (fd:migrate)"), out);
                assertTrue(out.contains("] completed: "), "a progress line per status: " + out);
                for (String figure : List.of("Migration completed.", "total time", "downtime", "setup time",
                        "transferred", "throughput", "passes", "zero pages", "normal pages", "Target: running")) {
                    assertTrue(out.contains(figure), figure + " in:\n" + out);
                }
            }
            assertEquals("running", p.status(p.dst));
            assertEquals("postmigrate", p.status(p.src));
            p.assertTargetContinuesGuest();
        }
    }

    @Test
    void aTargetWithLessRamFailsWithTheReasonAndTheSourceRunsOn(@TempDir Path dir) throws Exception {
        try (MigrationPair p = MigrationPair.start(dir, GUEST)) {
            Path sock = dir.resolve("target-cli.sock");
            p.startTargetWith(List.of("-m", "64M", "-smp", "2", "-nographic"), "defer", monitor(sock));
            awaitSocket(sock);
            try (FerryProcess cli = migrate(dir, sock)) {
                int status = cli.awaitExit(T);
                String out = cli.output();
                assertEquals(1, status, out);
                assertTrue(out.contains("migration failed: ") && out.contains(
                        "RAM size is 96 MiB on the source and 64 MiB here"), out);
                assertTrue(out.contains("the guest is running on the source"), out);
            }
            p.assertSourceRunsWithoutErrors();
        }
    }

    /**
     * Ctrl-C is SIGINT to the process. A process started in the background by a
     * non-interactive shell ignores SIGINT, and so do its children: there, nothing to test.
     */
    @Test
    void ctrlCCancelsAndTheSourceRunsOn(@TempDir Path dir) throws Exception {
        Assumptions.assumeFalse(sigintIgnored(), "SIGINT is ignored by this test run (started in the background "
                + "by a non-interactive shell), so 'ferry migrate' would never see it");
        try (MigrationPair p = MigrationPair.start(dir, GUEST)) {
            Path sock = dir.resolve("target-cli.sock");
            p.startTarget("defer", monitor(sock));
            awaitSocket(sock);
            try (FerryProcess cli = migrate(dir, sock, "--max-bandwidth", "4M", "--progress=lines")) {
                cli.awaitLineContaining("active, pass 1", T);
                Process kill = new ProcessBuilder("kill", "-INT", Long.toString(cli.pid())).inheritIO().start();
                assertEquals(0, kill.waitFor());
                int status = cli.awaitExit(T);
                String out = cli.output();
                assertEquals(130, status, out);
                assertTrue(out.contains("cancelling the migration"), out);
                assertTrue(out.contains("migration cancelled"), out);
                assertTrue(out.contains("the guest is running on the source"), out);
            }
            p.assertSourceRunsWithoutErrors();
            assertEquals("inmigrate", p.status(p.dst), "the target still waits");
        }
    }

    /** SigIgn in /proc/self/status: a hex mask, bit (signal - 1); SIGINT is 2. */
    private static boolean sigintIgnored() throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("SigIgn:")) {
                return (Long.parseUnsignedLong(l.substring(7).trim(), 16) & (1L << 1)) != 0;
            }
        }
        return false;
    }
}
