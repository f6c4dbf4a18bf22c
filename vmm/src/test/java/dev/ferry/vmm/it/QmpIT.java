package dev.ferry.vmm.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.vmm.os.LibC;
import dev.ferry.vmm.testing.FerryProcess;
import dev.ferry.vmm.testing.KvmAvailability;
import dev.ferry.vmm.testing.QmpTestClient;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** QMP over real sockets against a running Ferry with a guest, as management software uses it. */
@Tag("kvm")
class QmpIT {

    private static final Duration T = Duration.ofSeconds(20);

    @BeforeAll
    static void kvm() {
        KvmAvailability.assumeKvm();
    }

    private static FerryProcess ferry(Path sock, String... extra) throws Exception {
        String[] base = {"-m", "64M", "-smp", "2", "-serial", "none", "-append", "mode=idle hb=200",
                "-qmp", "unix:" + sock + ",server=on,wait=off"};
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return FerryProcess.startFerry(all);
    }

    @Test
    void lifecycleCommandsAndEvents(@TempDir Path tmp) throws Exception {
        Path sock = tmp.resolve("qmp.sock");
        try (FerryProcess f = ferry(sock, "-name", "guest=vm1");
             QmpTestClient c = QmpTestClient.connectUnix(sock, T)) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
            JsonNode greeting = c.negotiate();
            assertEquals(7, greeting.at("/QMP/version/qemu/major").asInt());
            assertEquals("running", c.execute("query-status").at("/return/status").asText());
            assertEquals("vm1", c.execute("query-name").at("/return/name").asText());
            assertEquals(2, c.execute("query-cpus-fast").get("return").size());
            assertEquals(64L << 20, c.execute("query-memory-size-summary").at("/return/base-memory").asLong());
            assertTrue(c.execute("query-kvm").at("/return/enabled").asBoolean());

            c.execute("stop");
            c.awaitEvent("STOP", T);
            assertEquals("paused", c.execute("query-status").at("/return/status").asText());
            assertEquals("VM status: paused\r\n", c.execute("human-monitor-command",
                    "{\"command-line\": \"info status\"}").get("return").asText());
            c.execute("cont");
            c.awaitEvent("RESUME", T);

            c.execute("system_reset");
            JsonNode reset = c.awaitEvent("RESET", T);
            assertEquals("host-qmp-system-reset", reset.at("/data/reason").asText());
            assertTrue(!reset.at("/data/guest").asBoolean());

            // The stub guest honours the power button: it powers itself off.
            c.execute("system_powerdown");
            c.awaitEvent("POWERDOWN", T);
            JsonNode shutdown = c.awaitEvent("SHUTDOWN", T);
            assertTrue(shutdown.at("/data/guest").asBoolean(), shutdown.toString());
            assertEquals("guest-shutdown", shutdown.at("/data/reason").asText());
            assertEquals(0, f.awaitExit(T));
            assertTrue(!Files.exists(sock), "the socket is removed when the VMM exits");
        }
    }

    @Test
    void quitRepliesThenExits(@TempDir Path tmp) throws Exception {
        Path sock = tmp.resolve("qmp.sock");
        try (FerryProcess f = ferry(sock); QmpTestClient c = QmpTestClient.connectUnix(sock, T)) {
            c.negotiate();
            c.send("{\"execute\": \"quit\", \"id\": \"q\"}");
            JsonNode first = c.nextJson(T);
            assertEquals("SHUTDOWN", first.get("event").asText());
            assertEquals("host-qmp-quit", first.at("/data/reason").asText());
            assertEquals("q", c.nextJson(T).get("id").asText());
            assertEquals(0, f.awaitExit(T));
        }
    }

    @Test
    void descriptorsPassedWithScmRightsInBothStyles(@TempDir Path tmp) throws Exception {
        Path sock = tmp.resolve("qmp.sock");
        Path file = Files.writeString(tmp.resolve("f"), "x");
        int fd1 = LibC.open(file.toString(), 0, 0);
        int fd2 = LibC.open(file.toString(), 0, 0);
        try (FerryProcess f = ferry(sock); QmpTestClient c = QmpTestClient.connectUnix(sock, T)) {
            c.negotiate();
            // qemu.qmp: a lone space carries the descriptor, the command follows.
            c.sendWithFds(" ", fd1);
            assertTrue(c.execute("getfd", "{\"fdname\": \"mig\"}").has("return"));
            // libvirt: the descriptor rides on the command's own bytes.
            c.sendWithFds("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"other\"}}", fd2);
            assertTrue(c.reply(T).has("return"));
            assertTrue(c.execute("closefd", "{\"fdname\": \"mig\"}").has("return"));
            assertEquals("File descriptor named 'mig' not found",
                    c.execute("closefd", "{\"fdname\": \"mig\"}").at("/error/desc").asText());
            assertEquals("No file descriptor supplied via SCM_RIGHTS",
                    c.execute("getfd", "{\"fdname\": \"none\"}").at("/error/desc").asText());
            // Descriptor sets: add-fd takes the passed descriptor, remove-fd closes it.
            c.sendWithFds("{\"execute\": \"add-fd\", \"arguments\": {\"fdset-id\": 2}}", fd1);
            JsonNode added = c.reply(T);
            assertEquals(2, added.at("/return/fdset-id").asInt(), added.toString());
            int vmmFd = added.at("/return/fd").asInt();
            assertTrue(c.execute("remove-fd", "{\"fdset-id\": 2, \"fd\": " + vmmFd + "}").has("return"));
            assertEquals("File descriptor named 'fdset-id:2' not found",
                    c.execute("remove-fd", "{\"fdset-id\": 2}").at("/error/desc").asText());
        } finally {
            LibC.close(fd1);
            LibC.close(fd2);
        }
    }

    @Test
    void severalMonitorsTcpAndLibvirtStyleAtOnce(@TempDir Path tmp) throws Exception {
        Path sock = tmp.resolve("qmp.sock");
        Path libvirtSock = tmp.resolve("monitor.sock");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (FerryProcess f = ferry(sock, "-qmp", "tcp:127.0.0.1:" + port + ",server=on,wait=off",
                "-chardev", "socket,id=charmonitor,path=" + libvirtSock + ",server=on,wait=off",
                "-mon", "chardev=charmonitor,id=monitor,mode=control");
             QmpTestClient a = QmpTestClient.connectUnix(sock, T);
             QmpTestClient b = QmpTestClient.connectTcp("127.0.0.1", port, T);
             QmpTestClient l = QmpTestClient.connectUnix(libvirtSock, T)) {
            a.negotiate();
            b.negotiate();
            l.negotiate();
            a.execute("stop");
            b.awaitEvent("STOP", T);
            l.awaitEvent("STOP", T);
            b.execute("cont");
            a.awaitEvent("RESUME", T);
            assertEquals("running", l.execute("query-status").at("/return/status").asText());
        }
    }

    @Test
    void startPausedWaitsInPrelaunchUntilCont(@TempDir Path tmp) throws Exception {
        Path sock = tmp.resolve("qmp.sock");
        try (FerryProcess f = ferry(sock, "-S"); QmpTestClient c = QmpTestClient.connectUnix(sock, T)) {
            c.negotiate();
            assertEquals("prelaunch", c.execute("query-status").at("/return/status").asText());
            c.execute("cont");
            c.awaitEvent("RESUME", T);
            assertEquals("running", c.execute("query-status").at("/return/status").asText());
        }
    }

    @Test
    void theManagementCliSendsOneCommand(@TempDir Path tmp) throws Exception {
        Path sock = tmp.resolve("qmp.sock");
        try (FerryProcess f = ferry(sock); QmpTestClient waitForSocket = QmpTestClient.connectUnix(sock, T)) {
            try (FerryProcess cli = FerryProcess.startFerry("qmp", sock.toString(), "query-status")) {
                assertEquals(0, cli.awaitExit(T), cli.output());
                assertTrue(cli.output().contains("\"status\" : \"running\""), cli.output());
            }
            try (FerryProcess cli = FerryProcess.startFerry("qmp", sock.toString(), "no-such-command")) {
                assertEquals(1, cli.awaitExit(T), cli.output());
                assertTrue(cli.output().contains("CommandNotFound"), cli.output());
            }
        }
    }

    /** A client that pipelines: many commands with ids in one write, replies matched by id. */
    @Test
    void pipelinedCommandsAreAnsweredInOrder(@TempDir Path tmp) throws Exception {
        Path sock = tmp.resolve("qmp.sock");
        try (FerryProcess f = ferry(sock); QmpTestClient c = QmpTestClient.connectUnix(sock, T)) {
            c.negotiate();
            StringBuilder batch = new StringBuilder();
            for (int i = 0; i < 200; i++) {
                String cmd = i % 3 == 0 ? "query-status" : i % 3 == 1 ? "query-kvm" : "no-such";
                batch.append("{\"execute\": \"").append(cmd).append("\", \"id\": ").append(i).append("}");
            }
            c.send(batch.toString());
            for (int i = 0; i < 200; i++) {
                JsonNode r = c.reply(T);
                assertEquals(i, r.get("id").asInt(), r.toString());
                assertEquals(i % 3 == 2, r.has("error"), r.toString());
            }
        }
    }
}
