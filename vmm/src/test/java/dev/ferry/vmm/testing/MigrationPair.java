package dev.ferry.vmm.testing;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two Ferry processes for migration tests: a source running the firmware workload and a target
 * waiting with -incoming, each with a QMP monitor. Closing kills both by PID.
 */
public final class MigrationPair implements AutoCloseable {

    public static final Duration T = Duration.ofSeconds(60);

    public final Path dir;
    public final FerryProcess source;
    public final QmpTestClient src;
    public FerryProcess target;
    public QmpTestClient dst;
    private final List<String> guestArgs;
    private int targets;

    private MigrationPair(Path dir, List<String> guestArgs, FerryProcess source, QmpTestClient src) {
        this.dir = dir;
        this.guestArgs = guestArgs;
        this.source = source;
        this.src = src;
    }

    /** Starts the source with {@code guestArgs} (e.g. -m, -smp, -append) and waits for heartbeat 3. */
    public static MigrationPair start(Path dir, String... guestArgs) throws Exception {
        List<String> args = new ArrayList<>(List.of(guestArgs));
        FerryProcess s = FerryProcess.startFerry(with(args, "-qmp", "unix:" + dir.resolve("src.sock")
                + ",server=on,wait=off"));
        try {
            s.awaitHeartbeat(3, T);
            QmpTestClient c = QmpTestClient.connectUnix(dir.resolve("src.sock"), Duration.ofSeconds(20));
            c.negotiate();
            return new MigrationPair(dir, args, s, c);
        } catch (Throwable e) {
            s.close();
            throw e;
        }
    }

    private static String[] with(List<String> base, String... more) {
        List<String> all = new ArrayList<>(base);
        Collections.addAll(all, more);
        return all.toArray(String[]::new);
    }

    /** Starts a (new) target with the source's guest arguments, or {@code override} if given. */
    public void startTarget(String incoming, String... extra) throws Exception {
        startTargetWith(guestArgs, incoming, extra);
    }

    public void startTargetWith(List<String> guest, String incoming, String... extra) throws Exception {
        closeTarget();
        Path sock = dir.resolve("dst" + (targets++) + ".sock");
        List<String> args = new ArrayList<>(guest);
        Collections.addAll(args, "-qmp", "unix:" + sock + ",server=on,wait=off", "-incoming", incoming);
        Collections.addAll(args, extra);
        target = FerryProcess.startFerry(args.toArray(String[]::new));
        dst = QmpTestClient.connectUnix(sock, Duration.ofSeconds(30));
        dst.negotiate();
    }

    public void closeTarget() throws Exception {
        if (dst != null) {
            dst.close();
            dst = null;
        }
        if (target != null) {
            target.close();
            target = null;
        }
    }

    public static JsonNode ok(JsonNode reply) {
        assertTrue(reply.has("return"), () -> "QMP error: " + reply);
        return reply.get("return");
    }

    /** Polls query-migrate on {@code c} until the status is none of {@code passing}. */
    public static JsonNode awaitStatusBeyond(QmpTestClient c, Duration timeout, String... passing) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<String> p = List.of(passing);
        while (true) {
            JsonNode r = ok(c.execute("query-migrate"));
            String st = r.path("status").asText("none");
            if (!p.contains(st) || System.nanoTime() > deadline) {
                return r;
            }
            Thread.sleep(20);
        }
    }

    /** Waits for the source's migration to end (completed, failed or cancelled). */
    public JsonNode awaitSourceEnd() throws Exception {
        return awaitStatusBeyond(src, T, "setup", "active", "cancelling", "pre-switchover", "device", "none");
    }

    /** The port a target started with -incoming tcp:127.0.0.1:0 listens on. */
    public int targetPort() throws Exception {
        JsonNode r = ok(dst.execute("query-migrate"));
        return r.get("socket-address").get(0).get("port").asInt();
    }

    public String status(QmpTestClient c) throws Exception {
        return ok(c.execute("query-status")).get("status").asText();
    }

    /** The last heartbeat the source printed. */
    public FerryProcess.Heartbeat lastSourceHeartbeat() {
        List<FerryProcess.Heartbeat> all = sourceHeartbeats();
        return all.isEmpty() ? null : all.get(all.size() - 1);
    }

    private List<FerryProcess.Heartbeat> sourceHeartbeats() {
        List<FerryProcess.Heartbeat> all = new ArrayList<>();
        for (String l : source.lines()) {
            FerryProcess.Heartbeat h = FerryProcess.Heartbeat.parse(l);
            if (h != null) {
                all.add(h);
            }
        }
        return all;
    }

    private static final Pattern UPTIME = Pattern.compile("uptime_ms=(\\d+)");

    /** Pages verified per second of the guest's own time (its TSC) from {@code a} to {@code b}. */
    private static double verifyRate(FerryProcess.Heartbeat a, FerryProcess.Heartbeat b) {
        Matcher ma = UPTIME.matcher(a.line());
        Matcher mb = UPTIME.matcher(b.line());
        assertTrue(ma.find() && mb.find(), a.line() + " / " + b.line());
        long ms = Long.parseLong(mb.group(1)) - Long.parseLong(ma.group(1));
        return (b.pagesVerified() - a.pagesVerified()) * 1000.0 / Math.max(1, ms);
    }

    /**
     * The migrated guest goes on where the source stopped: the target prints heartbeats numbered
     * after the source's last one, with errors=0 and more pages verified.
     */
    public void assertTargetContinuesGuest() throws Exception {
        FerryProcess.Heartbeat before = lastSourceHeartbeat();
        FerryProcess.Heartbeat first = target.awaitHeartbeat((int) before.hb() + 1, T);
        FerryProcess.Heartbeat later = target.awaitHeartbeat((int) first.hb() + 2, T);
        assertEquals(0, first.errors(), first.line());
        assertEquals(0, later.errors(), later.line());
        assertTrue(later.pagesVerified() > before.pagesVerified(), later.line() + " after " + before.line());
        // Every vCPU goes on at its pace, not only the one that prints: a vCPU halted in the
        // firmware's sleep wakes only if its LAPIC timer and TSC deadline came along.
        List<FerryProcess.Heartbeat> src = sourceHeartbeats();
        if (src.size() >= 3) {
            double sourceRate = verifyRate(src.get(src.size() - 3), src.get(src.size() - 2));
            double targetRate = verifyRate(first, later);
            assertTrue(targetRate > 0.8 * sourceRate, "the target verifies " + targetRate
                    + " pages/s, the source did " + sourceRate + ": " + first.line() + " / " + later.line());
        }
    }

    /** The source guest is running and still verifying its pages without errors. */
    public void assertSourceRunsWithoutErrors() throws Exception {
        assertEquals("running", status(src));
        FerryProcess.Heartbeat now = lastSourceHeartbeat();
        FerryProcess.Heartbeat next = source.awaitHeartbeat((int) now.hb() + 2, T);
        assertEquals(0, next.errors(), next.line());
    }

    @Override
    public void close() throws Exception {
        try {
            closeTarget();
        } finally {
            src.close();
            source.close();
        }
    }
}
