package dev.ferry.vmm.qmpclient;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static dev.ferry.vmm.qmpclient.FakeMonitor.error;
import static dev.ferry.vmm.qmpclient.FakeMonitor.json;
import static dev.ferry.vmm.qmpclient.FakeMonitor.object;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The QMP sequence of 'ferry migrate' against scripted monitors (no VMM, no KVM). */
class MigrateCommandTest {

    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    private String out() {
        return outBytes.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return errBytes.toString(StandardCharsets.UTF_8);
    }

    static JsonNode status(String s) {
        return object().put("status", s).put("running", s.equals("running"));
    }

    static final String COMPLETED = "{\"status\": \"completed\", \"total-time\": 1234, \"setup-time\": 12, "
            + "\"downtime\": 45, \"ram\": {\"transferred\": 31457280, \"remaining\": 0, \"total\": 100663296, "
            + "\"duplicate\": 18401, \"normal\": 7410, \"mbps\": 200.0, \"dirty-sync-count\": 3, "
            + "\"dirty-pages-rate\": 0, \"page-size\": 4096}}";

    /** A source that migrates in three polls after 'migrate', then is in postmigrate (or running). */
    static FakeMonitor source(Path sock, String end) {
        AtomicInteger polls = new AtomicInteger(-1);
        AtomicReference<String> state = new AtomicReference<>("running");
        return new FakeMonitor(sock, (cmd, args) -> switch (cmd) {
            case "query-status" -> status(state.get());
            case "query-migrate" -> {
                if (polls.get() < 0) {
                    yield object();
                }
                int n = polls.incrementAndGet();
                if (n < 3) {
                    yield json("{\"status\": \"active\", \"expected-downtime\": 10, \"ram\": {\"transferred\": "
                            + (n << 20) + ", \"total\": 100663296, \"duplicate\": 100, \"normal\": 100, "
                            + "\"mbps\": 80, \"dirty-sync-count\": 0}}");
                }
                if (end.equals("completed")) {
                    state.set("postmigrate");
                    yield json(COMPLETED);
                }
                yield json("{\"status\": \"failed\", \"error-desc\": \"RAM size is 96 MiB on the source and "
                        + "64 MiB here\"}");
            }
            case "migrate" -> {
                polls.set(0);
                yield object();
            }
            default -> object();
        });
    }

    /**
     * A target in inmigrate until the source has been told to migrate, then paused (as with -S)
     * until cont. {@code before}: its query-migrate until then; {@code incoming}: the reply to
     * migrate-incoming.
     */
    static FakeMonitor target(Path sock, FakeMonitor source, JsonNode before, JsonNode incoming) {
        AtomicReference<String> state = new AtomicReference<>("paused");
        return new FakeMonitor(sock, (cmd, args) -> switch (cmd) {
            case "query-status" -> status(source.commands().contains("migrate") ? state.get() : "inmigrate");
            case "query-migrate" -> source.commands().contains("migrate") ? object().put("status", "completed")
                    : before;
            case "migrate-incoming" -> incoming;
            case "cont" -> {
                state.set("running");
                yield object();
            }
            default -> object();
        });
    }

    static FakeMonitor target(Path sock, FakeMonitor source) {
        return target(sock, source, object(), object());
    }

    @Test
    void libvirtsSequenceOverASocketPairThenContOnThePausedTarget(@TempDir Path dir) throws Exception {
        try (FakeMonitor src = source(dir.resolve("src.sock"), "completed");
             FakeMonitor dst = target(dir.resolve("dst.sock"), src)) {
            int status = MigrateCommand.run(new String[] {"--from", dir.resolve("src.sock").toString(),
                "--to", dir.resolve("dst.sock").toString(), "--downtime-limit", "100", "--max-bandwidth", "1G",
                "--progress=lines"}, out, err);
            assertEquals(0, status, err());

            List<String> s = src.commands();
            List<String> d = dst.commands();
            assertEquals(List.of("qmp_capabilities", "query-status", "query-migrate", "migrate-set-capabilities",
                    "migrate-set-parameters", "getfd", "migrate"), s.subList(0, 7), s.toString());
            assertEquals(List.of("qmp_capabilities", "query-status", "query-migrate", "migrate-set-capabilities",
                    "getfd", "migrate-incoming"), d.subList(0, 6), d.toString());
            FakeMonitor.Call getfd = src.calls().get(s.indexOf("getfd"));
            assertEquals(1, getfd.fds(), "one end of the pair goes with getfd");
            assertEquals("migrate", getfd.arguments().get("fdname").asText());
            assertEquals(1, dst.calls().get(d.indexOf("getfd")).fds());
            assertEquals("fd:migrate", dst.calls().get(d.indexOf("migrate-incoming")).arguments().get("uri").asText());
            assertEquals("fd:migrate", src.calls().get(s.indexOf("migrate")).arguments().get("uri").asText());
            JsonNode params = src.calls().get(s.indexOf("migrate-set-parameters")).arguments();
            assertEquals("{\"downtime-limit\":100,\"max-bandwidth\":1073741824}", params.toString());
            JsonNode caps = src.calls().get(s.indexOf("migrate-set-capabilities")).arguments();
            assertTrue(caps.toString().contains("{\"capability\":\"events\",\"state\":true}"), caps.toString());
            assertTrue(caps.toString().contains("{\"capability\":\"multifd\",\"state\":false}"), caps.toString());
            assertTrue(d.contains("cont"), "the guest ran on the source, so the paused target is resumed: " + d);

            String o = out();
            assertTrue(o.contains("Migration completed."), o);
            assertTrue(o.contains("downtime      45 ms"), o);
            assertTrue(o.contains("passes        3"), o);
            assertTrue(o.contains("active, pass 1"), o);
            assertTrue(o.contains("Target: resumed with cont; now running"), o);
        }
    }

    @Test
    void pausedLeavesTheTargetPausedAndMultifdGoesOverAUnixSocket(@TempDir Path dir) throws Exception {
        try (FakeMonitor src = source(dir.resolve("src.sock"), "completed");
             FakeMonitor dst = target(dir.resolve("dst.sock"), src)) {
            int status = MigrateCommand.run(new String[] {"--from", dir.resolve("src.sock").toString(),
                "--to", dir.resolve("dst.sock").toString(), "--multifd", "--channels", "4", "--paused",
                "--progress", "none"}, out, err);
            assertEquals(0, status, err());
            List<String> d = dst.commands();
            assertFalse(d.contains("cont"), d.toString());
            assertFalse(d.contains("getfd"), d.toString());
            String uri = dst.calls().get(d.indexOf("migrate-incoming")).arguments().get("uri").asText();
            assertTrue(uri.startsWith("unix:") && uri.endsWith("/migration.sock"), uri);
            assertEquals(uri, src.calls().get(src.commands().indexOf("migrate")).arguments().get("uri").asText());
            assertEquals(4, dst.calls().get(d.indexOf("migrate-set-parameters")).arguments()
                    .get("multifd-channels").asInt());
            assertTrue(out().contains("Target: paused (--paused)"), out());
            assertFalse(out().contains("active, pass"), "--progress none: " + out());
        }
    }

    @Test
    void aFailedMigrationExitsOneWithTheReasonAndTheSourceState(@TempDir Path dir) throws Exception {
        try (FakeMonitor src = source(dir.resolve("src.sock"), "failed");
             FakeMonitor dst = target(dir.resolve("dst.sock"), src)) {
            int status = MigrateCommand.run(new String[] {"--from", dir.resolve("src.sock").toString(),
                "--to", dir.resolve("dst.sock").toString(), "--progress=none"}, out, err);
            assertEquals(1, status);
            assertTrue(err().contains("migration failed: RAM size is 96 MiB on the source and 64 MiB here"), err());
            assertTrue(err().contains("the guest is running on the source"), err());
            assertFalse(dst.commands().contains("cont"));
        }
    }

    @Test
    void aTargetThatIsNotWaitingIsRefusedBeforeAnythingChanges(@TempDir Path dir) throws Exception {
        try (FakeMonitor src = source(dir.resolve("src.sock"), "completed");
             FakeMonitor dst = new FakeMonitor(dir.resolve("dst.sock"), (cmd, args) -> status("running"))) {
            int status = MigrateCommand.run(new String[] {"--from", dir.resolve("src.sock").toString(),
                "--to", dir.resolve("dst.sock").toString()}, out, err);
            assertEquals(1, status);
            assertTrue(err().contains("the target is not waiting for a migration (state running); "
                    + "start it with -incoming defer"), err());
            assertFalse(src.commands().contains("migrate-set-capabilities"), src.commands().toString());
        }
    }

    @Test
    void aTargetStartedWithIncomingUriNeedsThatUri(@TempDir Path dir) throws Exception {
        JsonNode listening = json("{\"status\": \"setup\", \"socket-address\": [{\"type\": \"inet\", "
                + "\"host\": \"127.0.0.1\", \"port\": \"4444\"}]}");
        try (FakeMonitor src = source(dir.resolve("src.sock"), "completed");
             FakeMonitor dst = target(dir.resolve("dst.sock"), src, listening, object())) {
            int status = MigrateCommand.run(new String[] {"--from", dir.resolve("src.sock").toString(),
                "--to", dir.resolve("dst.sock").toString()}, out, err);
            assertEquals(1, status);
            assertTrue(err().contains("the target already listens on tcp:127.0.0.1:4444 (it was started with "
                    + "-incoming URI rather than defer); pass its address with --uri tcp:127.0.0.1:4444"), err());
        }
        try (FakeMonitor src = source(dir.resolve("src2.sock"), "completed");
             FakeMonitor dst = target(dir.resolve("dst2.sock"), src, listening,
                     error("'-incoming' was not specified on the command line"))) {
            outBytes.reset();
            // With --uri, migrate-incoming is skipped and the source goes to that address.
            assertEquals(0, MigrateCommand.run(new String[] {"--from", dir.resolve("src2.sock").toString(),
                "--to", dir.resolve("dst2.sock").toString(), "--uri", "tcp:127.0.0.1:4444"}, out, err), err());
            assertFalse(dst.commands().contains("migrate-incoming"), dst.commands().toString());
            assertEquals("tcp:127.0.0.1:4444",
                    src.calls().get(src.commands().indexOf("migrate")).arguments().get("uri").asText());
        }
        try (FakeMonitor src = source(dir.resolve("src3.sock"), "completed");
             FakeMonitor dst = target(dir.resolve("dst3.sock"), src, object(),
                     error("'-incoming' was not specified on the command line"))) {
            // -incoming with a URI that query-migrate does not show (QEMU after a failed start):
            // migrate-incoming's error says so, and --uri is used as given.
            assertEquals(0, MigrateCommand.run(new String[] {"--from", dir.resolve("src3.sock").toString(),
                "--to", dir.resolve("dst3.sock").toString(), "--uri", "unix:/run/x.sock"}, out, err), err());
            assertTrue(out().contains("The target was started with -incoming URI"), out());
        }
    }

    @Test
    void helpUsageAndConnectionErrorsHaveTheirExitStatus(@TempDir Path dir) {
        assertEquals(0, MigrateCommand.run(new String[] {"--help"}, out, err));
        assertTrue(out().startsWith("usage: ferry migrate --from SOURCE --to TARGET"), out());
        assertEquals(2, MigrateCommand.run(new String[] {"--from", "a"}, out, err));
        assertTrue(err().contains("--from and --to are required"), err());
        assertTrue(err().contains("Try 'ferry migrate --help'."), err());
        assertEquals(1, MigrateCommand.run(new String[] {"--from", dir.resolve("none.sock").toString(),
            "--to", dir.resolve("none2.sock").toString()}, out, err));
        assertTrue(err().contains("--from " + dir.resolve("none.sock") + ": connect("), err());
    }

    @Test
    void listeningAddressesBecomeUris() {
        assertEquals("tcp:127.0.0.1:4444", MigrateCommand.listeningAddress(json(
                "{\"socket-address\": [{\"type\": \"inet\", \"host\": \"127.0.0.1\", \"port\": \"4444\"}]}")));
        assertEquals("tcp:[::1]:5", MigrateCommand.listeningAddress(json(
                "{\"socket-address\": [{\"type\": \"inet\", \"host\": \"::1\", \"port\": \"5\"}]}")));
        assertEquals("unix:/run/m.sock", MigrateCommand.listeningAddress(json(
                "{\"socket-address\": [{\"type\": \"unix\", \"path\": \"/run/m.sock\"}]}")));
        assertNull(MigrateCommand.listeningAddress(json("{\"status\": \"setup\"}")));
    }
}
