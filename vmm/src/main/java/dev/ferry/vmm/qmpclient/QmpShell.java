package dev.ferry.vmm.qmpclient;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * {@code ferry qmp SOCKET [COMMAND [ARGS...]]}: QMP for people, like QEMU's qmp-shell.
 * With a command, sends it, prints the pretty reply and exits (status 1 for an error reply).
 * Without, opens a shell: line editing and history (kept in ~/.ferry_qmp_history), replies
 * pretty-printed, events shown as they arrive. Arguments are {@code key=value} pairs (values
 * that parse as JSON are used as JSON, others as strings) or one JSON object; a line starting
 * with '{' is sent as a raw request.
 */
public final class QmpShell {

    private static final ObjectMapper JSON = new ObjectMapper();
    static final String USAGE = """
            usage: ferry qmp SOCKET [COMMAND [key=value ... | JSON-OBJECT]]
              SOCKET   a unix socket path, or tcp:HOST:PORT
              COMMAND  a QMP command, e.g. query-status; without one, an interactive shell starts
            """;

    private QmpShell() {}

    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
            (args.length == 0 ? err : out).print(USAGE);
            return args.length == 0 ? 1 : 0;
        }
        try (QmpClient client = QmpClient.connect(args[0])) {
            client.negotiate();
            if (args.length > 1) {
                ObjectNode arguments = parseArguments(Arrays.copyOfRange(args, 2, args.length));
                JsonNode reply = client.execute(args[1], arguments);
                print(out, reply.has("error") ? reply.get("error") : reply.get("return"));
                return reply.has("error") ? 1 : 0;
            }
            return interactive(client, args[0]);
        } catch (IllegalArgumentException e) {
            err.println("ferry qmp: " + e.getMessage());
            return 1;
        } catch (Exception e) {
            err.println("ferry qmp: " + args[0] + ": " + e.getMessage());
            return 1;
        }
    }

    /** key=value pairs, or a single JSON object. */
    static ObjectNode parseArguments(String[] words) {
        ObjectNode args = JSON.createObjectNode();
        if (words.length == 1 && words[0].trim().startsWith("{")) {
            try {
                JsonNode n = JSON.readTree(words[0]);
                if (!n.isObject()) {
                    throw new IllegalArgumentException("arguments must be a JSON object");
                }
                return (ObjectNode) n;
            } catch (IOException e) {
                throw new IllegalArgumentException("arguments are not valid JSON: " + e.getMessage());
            }
        }
        for (String w : words) {
            int eq = w.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("argument '" + w + "' is not key=value");
            }
            String key = w.substring(0, eq);
            String value = w.substring(eq + 1);
            try {
                args.set(key, JSON.readTree(value));
            } catch (IOException e) {
                args.put(key, value);
            }
            if (args.get(key) == null || args.get(key).isMissingNode()) {
                args.put(key, value);
            }
        }
        return args;
    }

    private static void print(PrintStream out, JsonNode n) throws IOException {
        out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n));
    }

    private static int interactive(QmpClient client, String target) throws Exception {
        Terminal terminal = TerminalBuilder.builder().system(true).build();
        LineReader reader = LineReaderBuilder.builder().terminal(terminal)
                .variable(LineReader.HISTORY_FILE, Path.of(System.getProperty("user.home"), ".ferry_qmp_history"))
                .build();
        PrintStream out = new PrintStream(terminal.output(), true);
        JsonNode v = client.greeting().at("/QMP/version");
        out.println("Connected to " + target + " (QMP " + v.at("/qemu/major").asText() + "."
                + v.at("/qemu/minor").asText() + "." + v.at("/qemu/micro").asText() + ", "
                + v.path("package").asText() + "). Type 'help' for help, Ctrl-D to leave.");
        client.onEvent(e -> reader.printAbove("event: " + e.path("event").asText() + " "
                + (e.has("data") ? e.get("data").toString() : "") + " at " + e.at("/timestamp/seconds").asText()));
        while (true) {
            String line;
            try {
                line = reader.readLine("(ferry) ").trim();
            } catch (UserInterruptException e) {
                continue;
            } catch (EndOfFileException e) {
                return 0;
            }
            if (line.isEmpty()) {
                continue;
            }
            if (line.equals("help")) {
                out.println("COMMAND [key=value ...] | COMMAND {json} | {raw request} | quit-shell");
                out.println("'query-commands' lists the commands; 'query-qmp-schema' describes them.");
                continue;
            }
            if (line.equals("quit-shell") || line.equals("exit")) {
                return 0;
            }
            try {
                JsonNode reply;
                if (line.startsWith("{")) {
                    JsonNode req = JSON.readTree(line);
                    if (!req.isObject()) {
                        throw new IllegalArgumentException("a raw request must be a JSON object");
                    }
                    reply = client.send((ObjectNode) req);
                } else {
                    String[] words = line.split("\\s+", 2);
                    String[] rest = words.length > 1 ? splitArgs(words[1]) : new String[0];
                    reply = client.execute(words[0], parseArguments(rest));
                }
                print(out, reply);
            } catch (IllegalArgumentException | IOException e) {
                out.println("error: " + e.getMessage());
                if (e.getMessage() != null && e.getMessage().contains("closed the connection")) {
                    return 1;
                }
            }
        }
    }

    private static String[] splitArgs(String s) {
        return s.trim().startsWith("{") ? new String[] {s.trim()} : s.trim().split("\\s+");
    }
}
