package dev.ferry.vmm.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ferry.vmm.os.UnixSocket;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A raw QMP client for tests: sends exact bytes, reads lines, and on unix sockets can attach
 * descriptors with SCM_RIGHTS. It behaves the way third-party libraries do, not the way Ferry
 * would like them to.
 */
public final class QmpTestClient implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final UnixSocket unix;
    private final Socket tcp;
    private final OutputStream out;
    private final BlockingQueue<String> lines = new ArrayBlockingQueue<>(100_000);
    private final List<JsonNode> events = new ArrayList<>();

    private QmpTestClient(UnixSocket unix, Socket tcp) throws IOException {
        this.unix = unix;
        this.tcp = tcp;
        this.out = tcp == null ? unix.outputStream() : tcp.getOutputStream();
        InputStream in = tcp != null ? tcp.getInputStream() : unix.inputStream();
        Thread reader = new Thread(() -> readLines(in), "qmp-test-client");
        reader.setDaemon(true);
        reader.start();
    }

    /** Connects, waiting up to {@code timeout} for the socket to appear. */
    public static QmpTestClient connectUnix(Path path, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                if (Files.exists(path)) {
                    return new QmpTestClient(UnixSocket.connect(path), null);
                }
            } catch (RuntimeException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no QMP socket at " + path + " within " + timeout);
            }
            Thread.sleep(20);
        }
    }

    public static QmpTestClient connectTcp(String host, int port, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                return new QmpTestClient(null, new Socket(host, port));
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    private volatile boolean paused;
    private final Object pauseLock = new Object();

    /** Stops reading from the socket, as a client that hangs would; the VMM's buffers fill. */
    public void pauseReading() {
        paused = true;
    }

    /** Forgets the events received so far. */
    public void discardEvents() {
        events.clear();
    }

    private void readLines(InputStream in) {
        ByteArrayOutputStream cur = new ByteArrayOutputStream();
        byte[] b = new byte[65536];
        try {
            int n;
            while (true) {
                while (paused) {
                    synchronized (pauseLock) {
                        pauseLock.wait(100);
                    }
                }
                n = in.read(b, 0, b.length);
                if (n <= 0) {
                    break;
                }
                for (int i = 0; i < n; i++) {
                    cur.write(b[i]);
                    if (b[i] == '\n') {
                        lines.add(cur.toString(StandardCharsets.UTF_8));
                        cur.reset();
                    }
                }
            }
        } catch (IOException | RuntimeException | InterruptedException e) {
            // connection closed
        }
        try {
            in.close();       // the reader is the socket's last user
        } catch (IOException e) {
            // nothing more to release
        }
        lines.add("<closed>");
    }

    public void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    public void send(String text) throws IOException {
        sendRaw(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Sends {@code text} with descriptors attached (unix only). */
    public void sendWithFds(String text, int... fds) {
        unix.sendWithFds(text.getBytes(StandardCharsets.UTF_8), fds);
    }

    /** The next line, raw (with its CRLF); "<closed>" at end of stream. */
    public String nextLine(Duration timeout) throws InterruptedException {
        String l = lines.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (l == null) {
            throw new AssertionError("no QMP line within " + timeout);
        }
        return l;
    }

    public JsonNode nextJson(Duration timeout) throws Exception {
        String l = nextLine(timeout);
        if (l.equals("<closed>")) {
            throw new AssertionError("connection closed");
        }
        return JSON.readTree(l);
    }

    /** Like a simple library: the next line that is not an event is the reply; events are kept. */
    public JsonNode reply(Duration timeout) throws Exception {
        while (true) {
            JsonNode n = nextJson(timeout);
            if (n.has("event")) {
                events.add(n);
            } else {
                return n;
            }
        }
    }

    public JsonNode execute(String command) throws Exception {
        send("{\"execute\": \"" + command + "\"}");
        return reply(Duration.ofSeconds(10));
    }

    public JsonNode execute(String command, String argumentsJson) throws Exception {
        send("{\"execute\": \"" + command + "\", \"arguments\": " + argumentsJson + "}");
        return reply(Duration.ofSeconds(10));
    }

    /** Reads the greeting and negotiates capabilities. */
    public JsonNode negotiate() throws Exception {
        JsonNode greeting = nextJson(Duration.ofSeconds(10));
        JsonNode r = execute("qmp_capabilities");
        if (!r.has("return")) {
            throw new AssertionError("negotiation failed: " + r);
        }
        return greeting;
    }

    /** Events seen so far (while waiting for replies), then any arriving within {@code wait}. */
    public List<JsonNode> events(Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (System.nanoTime() < deadline) {
            String l = lines.poll(10, TimeUnit.MILLISECONDS);
            if (l != null && !l.equals("<closed>")) {
                try {
                    JsonNode n = JSON.readTree(l);
                    if (n.has("event")) {
                        events.add(n);
                    }
                } catch (IOException e) {
                    throw new AssertionError("bad line " + l);
                }
            }
        }
        return List.copyOf(events);
    }

    public JsonNode awaitEvent(String name, Duration timeout) throws Exception {
        for (JsonNode e : events) {
            if (e.get("event").asText().equals(name)) {
                events.remove(e);
                return e;
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            String l = lines.poll(20, TimeUnit.MILLISECONDS);
            if (l == null || l.equals("<closed>")) {
                continue;
            }
            JsonNode n = JSON.readTree(l);
            if (n.has("event") && n.get("event").asText().equals(name)) {
                return n;
            }
            if (n.has("event")) {
                events.add(n);
            }
        }
        throw new AssertionError("no " + name + " event within " + timeout + "; seen " + events);
    }

    @Override
    public void close() throws IOException {
        if (unix != null) {
            unix.shutdown();
        }
        if (tcp != null) {
            tcp.close();
        }
    }
}
