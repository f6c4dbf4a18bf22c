package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.vmm.qmp.command.FerryCommands;
import dev.ferry.vmm.testing.PrelaunchMachine;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole pipeline on an EmbeddedChannel, over a machine that is never started, for what runs
 * on the connection thread.
 */
class QmpSessionTest {

    private final List<Integer> closed = new ArrayList<>();
    private final EmbeddedChannel ch = new EmbeddedChannel();
    private final PrelaunchMachine machine = PrelaunchMachine.create();

    QmpSessionTest() throws IOException {
        install(ch, new QmpEventBus());
        ch.pipeline().fireChannelActive();
    }

    private void install(EmbeddedChannel channel, QmpEventBus events) {
        QmpPipeline.install(channel.pipeline(), QmpServerInfo.FERRY, FerryCommands.registry(QmpServerInfo.FERRY),
                machine.machine(), new QmpFdStore(closed::add), events, new QmpFdSets(closed::add),
                machine.migration());
    }

    @AfterEach
    void closeMachine() {
        machine.close();
    }

    private List<String> exchange(String input) {
        ch.writeInbound(Unpooled.copiedBuffer(input, StandardCharsets.UTF_8));
        List<String> out = new ArrayList<>();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            out.add(b.toString(StandardCharsets.US_ASCII));
            b.release();
        }
        return out;
    }

    private static JsonNode json(String line) throws Exception {
        assertTrue(line.endsWith("\r\n"), "CRLF: " + line);
        return QmpMessages.MAPPER.readTree(line);
    }

    @Test
    void greetsAndRequiresNegotiationFirst() throws Exception {
        List<String> greeting = exchange("");
        assertEquals(1, greeting.size());
        JsonNode g = json(greeting.get(0));
        assertEquals(7, g.at("/QMP/version/qemu/major").asInt());
        assertTrue(g.at("/QMP/capabilities").isArray());
        assertEquals(List.of("{\"id\": \"pre-1\", \"error\": {\"class\": \"CommandNotFound\", \"desc\": "
                        + "\"Expecting capabilities negotiation with 'qmp_capabilities'\"}}\r\n"),
                exchange("{\"execute\": \"query-version\", \"id\": \"pre-1\"}"));
        assertEquals(List.of("{\"return\": {}}\r\n"), exchange("{\"execute\": \"qmp_capabilities\"}"));
        assertEquals(List.of("{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
                        + "\"Capabilities negotiation is already complete, command ignored\"}}\r\n"),
                exchange("{\"execute\": \"qmp_capabilities\"}"));
    }

    @Test
    void negotiationArgumentsAreChecked() {
        exchange("");
        assertTrue(exchange("{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"bogus\"]}}").get(0)
                .contains("does not accept value 'bogus'"));
        assertTrue(exchange("{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": \"oob\"}}").get(0)
                .contains("Invalid parameter type for 'enable', expected: array"));
        assertEquals(List.of("{\"return\": {}, \"id\": 1}\r\n"),
                exchange("{\"execute\": \"qmp_capabilities\", \"arguments\": {}, \"id\": 1}"));
    }

    @Test
    void idsAreEchoedAndRepliesComeInOrder() throws Exception {
        exchange("{\"execute\": \"qmp_capabilities\"}");
        List<String> out = exchange("{\"execute\": \"query-version\", \"id\": {\"a\": [1, \"x\"]}}"
                + "{\"execute\": \"nope\", \"id\": -7}{\"execute\": bad}"
                + "{\"execute\": \"query-version\", \"id\": null}");
        assertEquals(4, out.size());
        assertEquals("{\"a\":[1,\"x\"]}", json(out.get(0)).get("id").toString());
        assertEquals("{\"id\": -7, \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has not been found\"}}\r\n",
                out.get(1));
        assertEquals("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword 'bad'\"}}\r\n",
                out.get(2));
        assertTrue(json(out.get(3)).get("id").isNull());
    }

    @Test
    void argumentsAreValidatedWithQemusMessages() {
        exchange("{\"execute\": \"qmp_capabilities\"}");
        assertTrue(exchange("{\"execute\": \"query-version\", \"arguments\": {\"x\": 1}}").get(0)
                .contains("Parameter 'x' is unexpected"));
        assertTrue(exchange("{\"execute\": \"human-monitor-command\", \"arguments\": {}}").get(0)
                .contains("Parameter 'command-line' is missing"));
        assertTrue(exchange("{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": 5}}").get(0)
                .contains("Invalid parameter type for 'command-line', expected: string"));
    }

    @Test
    void fdCommandsWithoutADescriptor() {
        exchange("{\"execute\": \"qmp_capabilities\"}");
        assertTrue(exchange("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"f\"}}").get(0)
                .contains("No file descriptor supplied via SCM_RIGHTS"));
        assertTrue(exchange("{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"nope\"}}").get(0)
                .contains("File descriptor named 'nope' not found"));
    }

    @Test
    void schemaDescribesEveryCommandAndItsArguments() throws Exception {
        exchange("{\"execute\": \"qmp_capabilities\"}");
        JsonNode schema = json(exchange("{\"execute\": \"query-qmp-schema\"}").get(0)).get("return");
        JsonNode commands = json(exchange("{\"execute\": \"query-commands\"}").get(0)).get("return");
        for (JsonNode c : commands) {
            String name = c.get("name").asText();
            boolean found = false;
            for (JsonNode s : schema) {
                if (s.get("name").asText().equals(name) && s.get("meta-type").asText().equals("command")) {
                    found = true;
                    String argType = s.get("arg-type").asText();
                    assertTrue(hasType(schema, argType), "arg type " + argType + " of " + name);
                }
            }
            assertTrue(found, name + " in schema");
        }
        JsonNode hmpArgs = null;
        for (JsonNode s : schema) {
            if (s.get("name").asText().equals("human-monitor-command-arg")) {
                hmpArgs = s;
            }
        }
        assertEquals("command-line", hmpArgs.at("/members/0/name").asText());
        assertEquals("str", hmpArgs.at("/members/0/type").asText());
    }

    private static boolean hasType(JsonNode schema, String name) {
        for (JsonNode s : schema) {
            if (s.get("name").asText().equals(name)) {
                return true;
            }
        }
        return false;
    }

    @Test
    void eventsReachOnlyNegotiatedConnections() {
        QmpEventBus bus = new QmpEventBus();
        EmbeddedChannel a = new EmbeddedChannel();
        install(a, bus);
        a.pipeline().fireChannelActive();
        ((ByteBuf) a.readOutbound()).release();
        bus.emit("STOP", null);
        assertNull(a.readOutbound());
        a.writeInbound(Unpooled.copiedBuffer("{\"execute\": \"qmp_capabilities\"}", StandardCharsets.UTF_8));
        ((ByteBuf) a.readOutbound()).release();
        bus.emit("STOP", null);
        ByteBuf ev = a.readOutbound();
        assertTrue(ev.toString(StandardCharsets.US_ASCII).contains("\"event\": \"STOP\""));
        ev.release();
    }
}
