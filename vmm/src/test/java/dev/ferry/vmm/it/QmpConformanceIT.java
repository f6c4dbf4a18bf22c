package dev.ferry.vmm.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.vmm.testing.FerryProcess;
import dev.ferry.vmm.testing.KvmAvailability;
import dev.ferry.vmm.testing.QmpTestClient;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Replays the QMP exchanges recorded from QEMU 7.2 (src/test/resources/qmp/qemu-exchanges.json,
 * made by src/test/scripts/record-qemu-qmp.py) against Ferry and requires the same shapes: the
 * same number of replies per input, the same kinds (return / error), the same error classes and
 * QEMU's error messages, and ids echoed. Scenarios that depend on what Ferry deliberately does
 * differently are listed in {@link #NOT_REPLAYED} with the reason (docs/qmp.md lists them too).
 */
@Tag("kvm")
class QmpConformanceIT {

    private static final Duration T = Duration.ofSeconds(15);
    private static final ObjectMapper JSON = new ObjectMapper();

    static final Map<String, String> NOT_REPLAYED = Map.ofEntries(
            Map.entry("negotiate-enable-oob", "Ferry does not offer out-of-band execution"),
            Map.entry("exec-oob-without-oob", "Ferry does not offer out-of-band execution"),
            Map.entry("query-commands", "the command set differs; checked by QmpSessionTest"),
            Map.entry("query-qmp-schema", "the schema differs; checked by QmpSessionTest"),
            Map.entry("fd-passing", "needs descriptors; QmpIT covers both passing styles"),
            Map.entry("token-size-over-limit", "Ferry caps a message at 8 MiB, QEMU at 64 MiB"),
            Map.entry("token-count-over-limit", "needs a 64 MiB input at QEMU's pace; the framer test covers it"),
            Map.entry("events-before-negotiation", "several connections; QmpSessionTest covers it"),
            Map.entry("id-echo-float", "QEMU prints 3.14 as 3.1400000000000001; Ferry echoes 3.14"),
            Map.entry("id-echo-float-integral", "QEMU normalises 1.0 to 1; Ferry echoes 1.0"),
            Map.entry("id-echo-exponent", "QEMU normalises 1e3 to 1000; Ferry echoes 1E+3"),
            Map.entry("id-echo-too-big-integer", "QEMU turns 2^64 into a float; Ferry echoes the integer"),
            Map.entry("interpolation-token", "after a stray '%' QEMU's lexer folds the rest of the value into one "
                    + "error, Ferry's framer reports it in two"),
            Map.entry("human-monitor-command", "only some HMP commands exist in Ferry; QmpIT checks info status"),
            Map.entry("system-reset-no-reboot", "its own instance; QmpIT covers reset"),
            Map.entry("system-reset", "its own instance; QmpIT covers reset"),
            Map.entry("system-powerdown", "its own instance; QmpIT covers powerdown"),
            Map.entry("quit", "its own instance; QmpIT covers quit"),
            Map.entry("libvirt-monitor", "its own instance; QmpIT covers -chardev/-mon"),
            Map.entry("stop-in-prelaunch", "prelaunch instance; QmpIT covers -S"),
            Map.entry("cont-from-prelaunch", "prelaunch instance; QmpIT covers -S"),
            Map.entry("query-status-prelaunch", "prelaunch instance; QmpIT covers -S"),
            Map.entry("query-name-set", "prelaunch instance with -name; QmpIT covers -name"));

    @BeforeAll
    static void kvm() {
        KvmAvailability.assumeKvm();
    }

    private static JsonNode recording() throws Exception {
        try (InputStream in = QmpConformanceIT.class.getResourceAsStream("/qmp/qemu-exchanges.json")) {
            return JSON.readTree(in);
        }
    }

    private static byte[] bytesToSend(JsonNode step) {
        if (step.has("send_base64")) {
            return Base64.getDecoder().decode(step.get("send_base64").asText());
        }
        if (step.has("send_generated")) {
            JsonNode g = step.get("send_generated");
            String s = g.get("prefix").asText() + g.get("unit").asText().repeat(g.get("count").asInt())
                    + g.get("suffix").asText();
            return s.getBytes(StandardCharsets.UTF_8);
        }
        return step.get("send").asText().getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void ferryAnswersAsQemuDid(@TempDir Path tmp) throws Exception {
        JsonNode rec = recording();
        Path sock = tmp.resolve("qmp.sock");
        List<String> problems = new ArrayList<>();
        int replayed = 0;
        try (FerryProcess ferry = FerryProcess.startFerry("-m", "64M", "-smp", "1", "-serial", "none",
                "-append", "mode=idle", "-qmp", "unix:" + sock + ",server=on,wait=off")) {
            for (JsonNode scenario : rec.get("scenarios")) {
                String name = scenario.get("name").asText();
                String instance = scenario.path("instance").asText("default");
                if (NOT_REPLAYED.containsKey(name) || !instance.equals("default")) {
                    continue;
                }
                replayed++;
                try (QmpTestClient c = QmpTestClient.connectUnix(sock, T)) {
                    JsonNode greeting = c.nextJson(T);
                    if (!greeting.has("QMP") || !greeting.at("/QMP/version/qemu").has("major")) {
                        problems.add(name + ": greeting " + greeting);
                    }
                    if (scenario.path("negotiate").asBoolean()) {
                        try {
                            c.execute("qmp_capabilities");
                        } catch (AssertionError e) {
                            throw new AssertionError(name + ": negotiation failed; VMM output:\n" + ferry.output(), e);
                        }
                    }
                    int stepNo = 0;
                    for (JsonNode step : scenario.get("steps")) {
                        stepNo++;
                        compareStep(c, name + " step " + stepNo, step, problems);
                    }
                }
            }
        }
        java.nio.file.Files.writeString(Path.of("target", "qmp-conformance.txt"), String.join("\n", problems));
        assertTrue(replayed >= 60, "replayed only " + replayed + " scenarios");
        assertTrue(problems.isEmpty(), problems.size() + " differences from QEMU:\n" + String.join("\n", problems));
    }

    private static void compareStep(QmpTestClient c, String where, JsonNode step, List<String> problems)
            throws Exception {
        if (step.has("send_chunks")) {
            for (JsonNode chunk : step.get("send_chunks")) {
                c.send(chunk.asText());
                Thread.sleep(20);
            }
        } else {
            c.sendRaw(bytesToSend(step));
        }
        List<JsonNode> expected = new ArrayList<>();
        for (JsonNode r : step.get("replies")) {
            if (!r.has("event")) {
                expected.add(r);
            }
        }
        for (JsonNode want : expected) {
            JsonNode got;
            try {
                got = c.reply(T);
            } catch (AssertionError e) {
                problems.add(where + ": no reply, expected " + want);
                return;
            }
            String diff = difference(want, got);
            if (diff != null) {
                problems.add(where + ": " + diff + "\n    QEMU:  " + want + "\n    Ferry: " + got);
            }
        }
        if (expected.isEmpty()) {
            List<JsonNode> extra = new ArrayList<>();
            for (JsonNode e : c.events(Duration.ofMillis(200))) {
                if (!e.has("event")) {
                    extra.add(e);
                }
            }
            if (!extra.isEmpty()) {
                problems.add(where + ": QEMU said nothing, Ferry said " + extra);
            }
        }
    }

    /** Null if {@code got} has the shape of {@code want}; otherwise what differs. */
    static String difference(JsonNode want, JsonNode got) {
        if (want.has("return") != got.has("return") || want.has("error") != got.has("error")) {
            return "kind";
        }
        if (want.has("id") != got.has("id")) {
            return "id presence";
        }
        if (want.has("id") && !want.get("id").equals(got.get("id"))) {
            return "id value";
        }
        if (want.has("error")) {
            if (!want.at("/error/class").equals(got.at("/error/class"))) {
                return "error class";
            }
            String unexpected = "Parameter '[^']*' is unexpected";
            if (want.at("/error/desc").asText().matches(unexpected) && got.at("/error/desc").asText().matches(unexpected)) {
                return null;    // with several, which one is named follows QEMU's hash order
            }
            java.util.regex.Matcher cut = java.util.regex.Pattern.compile("(?s)(.*)\\.\\.\\.<\\d+ chars>\\.\\.\\.(.*)")
                    .matcher(want.at("/error/desc").asText());
            if (cut.matches()) {    // the recording abbreviates very long messages
                String g = got.at("/error/desc").asText();
                return g.startsWith(cut.group(1)) && g.endsWith(cut.group(2)) ? null : "error message";
            }
            if (!want.at("/error/desc").equals(got.at("/error/desc"))) {
                return "error message";
            }
        }
        if (want.has("return") && want.get("return").isObject()) {
            List<String> wantKeys = new ArrayList<>();
            want.get("return").fieldNames().forEachRemaining(wantKeys::add);
            List<String> gotKeys = new ArrayList<>();
            got.get("return").fieldNames().forEachRemaining(gotKeys::add);
            // The same members; their order is not part of QMP (QEMU prints a QDict in hash order).
            if (!new java.util.TreeSet<>(wantKeys).equals(new java.util.TreeSet<>(gotKeys))
                    || wantKeys.size() != gotKeys.size()) {
                return "return members " + wantKeys + " vs " + gotKeys;
            }
        }
        return null;
    }
}
