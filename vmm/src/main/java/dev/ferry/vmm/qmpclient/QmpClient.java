package dev.ferry.vmm.qmpclient;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.os.UnixSocket;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A QMP client for people and scripts: connects to a unix socket path or {@code tcp:HOST:PORT},
 * negotiates, sends commands with ids, and hands events to a listener as they arrive.
 */
public final class QmpClient implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final AutoCloseable connection;
    private final OutputStream out;
    /** The monitor socket when it is a unix one (descriptors can be passed), else null. */
    private final UnixSocket unix;
    private final BlockingQueue<JsonNode> replies = new LinkedBlockingQueue<>();
    private volatile Consumer<JsonNode> eventListener = e -> { };
    private final JsonNode greeting;
    private long nextId = 1;

    private QmpClient(AutoCloseable connection, UnixSocket unix, InputStream in, OutputStream out)
            throws IOException {
        this.connection = connection;
        this.unix = unix;
        this.out = out;
        Thread reader = new Thread(() -> readLoop(in), "qmp-client-reader");
        reader.setDaemon(true);
        reader.start();
        try {
            greeting = replies.poll(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the QMP greeting");
        }
        if (greeting == null || !greeting.has("QMP")) {
            throw new IOException("no QMP greeting from the server (is this a QMP monitor?)");
        }
    }

    /** {@code target}: a unix socket path, or {@code tcp:HOST:PORT}. */
    public static QmpClient connect(String target) throws IOException {
        if (target.startsWith("tcp:")) {
            String hp = target.substring(4);
            int c = hp.lastIndexOf(':');
            if (c < 0) {
                throw new IOException("expected tcp:HOST:PORT, got " + target);
            }
            Socket s = new Socket(hp.substring(0, c), Integer.parseInt(hp.substring(c + 1)));
            return new QmpClient(s, null, s.getInputStream(), s.getOutputStream());
        }
        String path = target.startsWith("unix:") ? target.substring(5) : target;
        UnixSocket u;
        try {
            u = UnixSocket.connect(Path.of(path));
        } catch (RuntimeException e) {
            throw new IOException(e.getMessage(), e);
        }
        // Closing only shuts the socket down; the reader thread, its last user, releases it.
        return new QmpClient(u::shutdown, u, u.inputStream(), u.outputStream());
    }

    private void readLoop(InputStream in) {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        byte[] b = new byte[65536];
        try {
            int n;
            while ((n = in.read(b, 0, b.length)) > 0) {
                for (int i = 0; i < n; i++) {
                    if (b[i] == '\n') {
                        dispatch(line.toString(StandardCharsets.UTF_8).trim());
                        line.reset();
                    } else {
                        line.write(b[i]);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // closed
        }
        try {
            in.close();
        } catch (IOException e) {
            // nothing more to release
        }
        replies.add(JSON.createObjectNode().put("closed", true));
    }

    private void dispatch(String line) throws IOException {
        if (line.isEmpty()) {
            return;
        }
        JsonNode n = JSON.readTree(line);
        if (n.has("event")) {
            eventListener.accept(n);
        } else {
            replies.add(n);
        }
    }

    public JsonNode greeting() {
        return greeting;
    }

    public void onEvent(Consumer<JsonNode> listener) {
        eventListener = listener;
    }

    /** Sends {@code {"execute": command, "arguments": args, "id": n}} and waits for its reply. */
    public synchronized JsonNode execute(String command, ObjectNode args) throws IOException {
        ObjectNode req = JSON.createObjectNode().put("execute", command);
        if (args != null && !args.isEmpty()) {
            req.set("arguments", args);
        }
        long id = nextId++;
        req.put("id", id);
        return send(req);
    }

    /**
     * Like {@link #execute}, with {@code fds} attached (SCM_RIGHTS) to the request's own bytes, as
     * libvirt sends getfd; the server keeps its own copies, the caller still owns {@code fds}.
     * Only a unix monitor can carry descriptors.
     */
    public synchronized JsonNode executeWithFds(String command, ObjectNode args, int... fds) throws IOException {
        if (unix == null) {
            throw new IOException("descriptors can only be passed over a unix socket monitor");
        }
        ObjectNode req = JSON.createObjectNode().put("execute", command);
        if (args != null && !args.isEmpty()) {
            req.set("arguments", args);
        }
        req.put("id", nextId++);
        try {
            unix.sendWithFds((JSON.writeValueAsString(req) + "\n").getBytes(StandardCharsets.UTF_8), fds);
        } catch (RuntimeException e) {
            throw new IOException(e.getMessage(), e);
        }
        return awaitReply();
    }

    /** Sends a request object as given (its own id, if any) and waits for the reply. */
    public synchronized JsonNode send(ObjectNode request) throws IOException {
        out.write((JSON.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        return awaitReply();
    }

    private JsonNode awaitReply() throws IOException {
        try {
            JsonNode r = replies.poll(60, TimeUnit.SECONDS);
            if (r == null) {
                throw new IOException("no reply within 60 s");
            }
            if (r.has("closed")) {
                throw new IOException("the QMP server closed the connection");
            }
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    public void negotiate() throws IOException {
        JsonNode r = execute("qmp_capabilities", null);
        if (!r.has("return")) {
            throw new IOException("capabilities negotiation failed: " + r);
        }
    }

    @Override
    public void close() throws Exception {
        connection.close();
    }
}
