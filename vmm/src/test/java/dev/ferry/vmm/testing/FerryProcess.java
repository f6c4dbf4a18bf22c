package dev.ferry.vmm.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A VMM process (Ferry's jar, or QEMU) started by a test: its output lines are collected as they
 * come, and {@link #close()} kills it by PID whatever happened, so no guest is left spinning.
 */
public final class FerryProcess implements AutoCloseable {

    private static final Pattern HEARTBEAT = Pattern.compile(
            "hb=(\\d+) .*pages_verified=(\\d+) .*errors=(\\d+)");

    private final Process process;
    private final List<String> lines = Collections.synchronizedList(new ArrayList<>());

    private FerryProcess(Process process) {
        this.process = process;
        pump(process.getInputStream(), "out");
        pump(process.getErrorStream(), "err");
    }

    /** The packaged jar (failsafe passes its path); the build runs integration tests after 'package'. */
    public static Path jar() {
        String p = System.getProperty("ferry.jar");
        if (p == null || !Files.isRegularFile(Path.of(p))) {
            throw new IllegalStateException("system property ferry.jar does not name the built jar: " + p);
        }
        return Path.of(p);
    }

    public static FerryProcess startFerry(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-XX:+UseSerialGC");
        cmd.add("-Xmn16m");     // as the launcher
        cmd.add("-jar");
        cmd.add(jar().toString());
        Collections.addAll(cmd, args);
        return start(cmd);
    }

    public static FerryProcess start(List<String> command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        return new FerryProcess(pb.start());
    }

    private void pump(InputStream in, String stream) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // process gone
            }
        }, "test-" + stream + "-" + process.pid());
        t.setDaemon(true);
        t.start();
    }

    public long pid() {
        return process.pid();
    }

    public List<String> lines() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    public String output() {
        return String.join("\n", lines());
    }

    /** Waits for a line matching {@code test}; fails with the output so far if none comes. */
    public String awaitLine(Predicate<String> test, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int seen = 0;
        while (System.nanoTime() < deadline) {
            List<String> now = lines();
            for (int i = seen; i < now.size(); i++) {
                if (test.test(now.get(i))) {
                    return now.get(i);
                }
            }
            seen = now.size();
            if (!process.isAlive() && seen == lines().size()) {
                Thread.sleep(50);     // let the pumps drain
                if (lines().size() == seen) {
                    throw new AssertionError("process exited (status " + process.exitValue()
                            + ") without the expected line; output:\n" + output());
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no expected line within " + timeout + "; output:\n" + output());
    }

    public String awaitLineContaining(String text, Duration timeout) throws InterruptedException {
        return awaitLine(l -> l.contains(text), timeout);
    }

    /** Waits for a heartbeat with hb >= {@code n}. */
    public Heartbeat awaitHeartbeat(int n, Duration timeout) throws InterruptedException {
        String line = awaitLine(l -> {
            Heartbeat h = Heartbeat.parse(l);
            return h != null && h.hb() >= n;
        }, timeout);
        return Heartbeat.parse(line);
    }

    public int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("process still running after " + timeout + "; output:\n" + output());
        }
        Thread.sleep(100);    // let the pumps drain the last lines
        return process.exitValue();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** A heartbeat line of the firmware stub. */
    public record Heartbeat(long hb, long pagesVerified, long errors, String line) {
        public static Heartbeat parse(String line) {
            Matcher m = HEARTBEAT.matcher(line);
            if (!m.find()) {
                return null;
            }
            return new Heartbeat(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)),
                    Long.parseLong(m.group(3)), line);
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
