package dev.ferry.vmm.it;

import dev.ferry.vmm.testing.FerryProcess;
import dev.ferry.vmm.testing.FerryProcess.Heartbeat;
import dev.ferry.vmm.testing.KvmAvailability;
import dev.ferry.vmm.testing.QmpTestClient;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile monitor clients against a VMM whose guest runs its workload: none of them may stop the
 * guest, the other monitors, or the server's ability to answer afterwards.
 */
@Tag("kvm")
class QmpHostileIT {

    private static final Duration T = Duration.ofSeconds(30);

    @BeforeAll
    static void kvm() {
        KvmAvailability.assumeKvm();
    }

    private static FerryProcess ferry(Path sock) throws Exception {
        return FerryProcess.startFerry("-m", "64M", "-nographic", "-append", "mem=8 rate=8 hb=250",
                "-qmp", "unix:" + sock + ",server=on,wait=off");
    }

    /** The guest still heartbeats, without errors, after whatever happened before. */
    private static void guestStillRuns(FerryProcess f) throws Exception {
        Heartbeat before = f.awaitHeartbeat(0, T);
        long now = f.lines().stream().map(Heartbeat::parse).filter(h -> h != null).mapToLong(Heartbeat::hb)
                .max().orElse(0);
        Heartbeat later = f.awaitHeartbeat((int) now + 2, T);
        assertEquals(0, later.errors(), later.line());
        assertTrue(later.pagesVerified() > before.pagesVerified() || later.hb() > before.hb());
    }

    @Test
    void oversizedDeepAndMalformedInputIsAnsweredAndForgotten(@TempDir Path tmp) throws Exception {
        Path sock = tmp.resolve("q.sock");
        try (FerryProcess f = ferry(sock); QmpTestClient c = QmpTestClient.connectUnix(sock, T)) {
            c.negotiate();
            // 9 MiB string: over the 8 MiB cap.
            c.send("{\"execute\": \"query-status\", \"arguments\": {\"s\": \"" + "a".repeat(9 << 20) + "\"}}");
            assertEquals("JSON token size limit exceeded", c.reply(T).at("/error/desc").asText());
            resync(c);
            c.send("[".repeat(5000));
            assertEquals("JSON nesting depth limit exceeded", c.reply(T).at("/error/desc").asText());
            resync(c);
            c.sendRaw("{\"execute\": \"query-status\", \"id\": \"\u00c3(\"}".getBytes(StandardCharsets.ISO_8859_1));
            assertEquals("JSON parse error, invalid UTF-8 sequence in string", c.reply(T).at("/error/desc").asText());
            assertEquals("running", c.execute("query-status").at("/return/status").asText());
            guestStillRuns(f);
        }
    }

    /**
     * What a client does after garbage, as qmp-spec.rst advises: 0xFF resets the parser; then a
     * command with a known id, and everything before its reply is the tail of the garbage.
     */
    private static void resync(QmpTestClient c) throws Exception {
        c.sendRaw(new byte[] {(byte) 0xFF});
        c.send("{\"execute\": \"query-status\", \"id\": \"sync\"}");
        while (!c.reply(T).path("id").asText().equals("sync")) {
            // follow-on errors of the rejected input
        }
    }

    @Test
    void aClientThatStopsReadingDoesNotStallOthers(@TempDir Path tmp) throws Exception {
        Path sock = tmp.resolve("q.sock");
        try (FerryProcess f = ferry(sock);
             QmpTestClient sleeper = QmpTestClient.connectUnix(sock, T);
             QmpTestClient active = QmpTestClient.connectUnix(sock, T)) {
            sleeper.negotiate();
            sleeper.pauseReading();
            active.negotiate();
            // Each cycle emits STOP and RESUME to both; the sleeper never reads them.
            long start = System.nanoTime();
            for (int i = 0; i < 5000; i++) {
                active.send("{\"execute\": \"stop\"}{\"execute\": \"cont\"}");
                active.reply(T);
                active.reply(T);
                active.discardEvents();
            }
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis < 60_000, "5000 stop/cont cycles took " + millis + " ms");
            assertEquals("running", active.execute("query-status").at("/return/status").asText());
            guestStillRuns(f);
            assertTrue(f.output().contains("not reading its socket"), "the VMM says why it drops events");
        }
    }

    @Test
    void aHundredConnectionsOpenedAndDroppedLeaveTheServerUsable(@TempDir Path tmp) throws Exception {
        Path sock = tmp.resolve("q.sock");
        try (FerryProcess f = ferry(sock)) {
            for (int i = 0; i < 100; i++) {
                try (QmpTestClient c = QmpTestClient.connectUnix(sock, T)) {
                    if (i % 3 == 0) {
                        c.send("{\"execute\": \"qmp_capabilities\"}{\"execute\": \"query-st");   // cut mid-command
                    } else if (i % 3 == 1) {
                        c.nextLine(T);
                    }
                }
            }
            try (QmpTestClient c = QmpTestClient.connectUnix(sock, T)) {
                c.negotiate();
                assertEquals("running", c.execute("query-status").at("/return/status").asText());
            }
            guestStillRuns(f);
        }
    }
}
