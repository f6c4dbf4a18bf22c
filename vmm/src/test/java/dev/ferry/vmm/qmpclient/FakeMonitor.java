package dev.ferry.vmm.qmpclient;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.jna.Memory;
import dev.ferry.vmm.os.LibC;
import dev.ferry.vmm.os.UnixSocket;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.BiFunction;

/**
 * A scripted QMP monitor on a unix socket for testing clients without a VMM: greets, answers
 * each command with what {@code answer} returns (a "return" value, or an {"error": ...} object
 * passed through), records the commands and how many descriptors came with each.
 */
final class FakeMonitor implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One command received: its name, arguments (empty object if none) and attached fds. */
    record Call(String command, JsonNode arguments, int fds) {}

    private final UnixSocket listener;
    private final BiFunction<String, JsonNode, JsonNode> answer;
    private final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
    private final Thread thread;

    FakeMonitor(Path path, BiFunction<String, JsonNode, JsonNode> answer) {
        this.listener = UnixSocket.listen(path, 4);
        this.answer = answer;
        thread = new Thread(this::serve, "fake-monitor");
        thread.setDaemon(true);
        thread.start();
    }

    static JsonNode error(String desc) {
        ObjectNode e = JSON.createObjectNode();
        e.putObject("error").put("class", "GenericError").put("desc", desc);
        return e;
    }

    static ObjectNode object() {
        return JSON.createObjectNode();
    }

    static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    List<Call> calls() {
        synchronized (calls) {
            return List.copyOf(calls);
        }
    }

    List<String> commands() {
        return calls().stream().map(Call::command).toList();
    }

    private void serve() {
        UnixSocket c = listener.accept();
        if (c == null) {
            return;
        }
        try {
            send(c, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
                    + "\"package\": \"fake\"}, \"capabilities\": []}}");
            Memory buf = new Memory(65536);
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            int pendingFds = 0;
            while (true) {
                UnixSocket.Received r = c.receive(buf, (int) buf.size());
                pendingFds += r.fds().size();
                r.fds().forEach(LibC::close);
                if (r.length() == 0) {
                    return;
                }
                byte[] b = buf.getByteArray(0, r.length());
                for (byte x : b) {
                    if (x != '\n') {
                        line.write(x);
                        continue;
                    }
                    JsonNode req = JSON.readTree(line.toString(StandardCharsets.UTF_8));
                    line.reset();
                    String cmd = req.path("execute").asText();
                    JsonNode args = req.has("arguments") ? req.get("arguments") : object();
                    calls.add(new Call(cmd, args, pendingFds));
                    pendingFds = 0;
                    JsonNode a = cmd.equals("qmp_capabilities") ? object() : answer.apply(cmd, args);
                    ObjectNode reply;
                    if (a != null && a.has("error")) {
                        reply = ((ObjectNode) a).deepCopy();
                    } else {
                        reply = object();
                        reply.set("return", a == null ? object() : a);
                    }
                    if (req.has("id")) {
                        reply.set("id", req.get("id"));
                    }
                    send(c, JSON.writeValueAsString(reply));
                }
            }
        } catch (Exception e) {
            // the client went away
        } finally {
            c.close();
        }
    }

    private static void send(UnixSocket c, String text) {
        byte[] b = (text + "\r\n").getBytes(StandardCharsets.UTF_8);
        Memory m = new Memory(b.length);
        m.write(0, b, 0, b.length);
        c.sendAll(m, b.length);
    }

    @Override
    public void close() throws InterruptedException {
        listener.close();
        thread.join(5000);
    }
}
