package dev.ferry.vmm.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.vmm.os.LibC;
import dev.ferry.vmm.os.UnixSocket;
import dev.ferry.vmm.testing.KvmAvailability;
import dev.ferry.vmm.testing.MigrationPair;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static dev.ferry.vmm.testing.MigrationPair.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Live migration between two Ferry processes driven over QMP, with the firmware workload
 * rewriting its pages on two vCPUs throughout: over tcp, unix (multifd) and fd (libvirt's
 * sequence), and a save/restore through a file. After each, the target's guest goes on from the
 * source's last heartbeat with errors=0.
 */
@Tag("kvm")
class MigrationIT {

    static final String[] GUEST = {"-m", "96M", "-smp", "2", "-nographic", "-append", "mem=24 rate=32 hb=100"};
    static final Duration T = MigrationPair.T;

    @BeforeAll
    static void kvm() {
        KvmAvailability.assumeKvm();
    }

    @Test
    void overTcpWithEventsAndQueryMigrateFigures(@TempDir Path dir) throws Exception {
        try (MigrationPair p = MigrationPair.start(dir, GUEST)) {
            p.startTarget("tcp:127.0.0.1:0");
            assertEquals("inmigrate", p.status(p.dst));
            JsonNode before = ok(p.src.execute("query-migrate"));
            assertEquals(0, before.size(), "query-migrate is empty before any migration: " + before);
            for (var c : List.of(p.src, p.dst)) {
                ok(c.execute("migrate-set-capabilities",
                        "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}]}"));
            }
            ok(p.src.execute("migrate", "{\"uri\": \"tcp:127.0.0.1:" + p.targetPort() + "\"}"));
            JsonNode done = p.awaitSourceEnd();
            assertEquals("completed", done.get("status").asText(), done.toString());
            for (String f : List.of("total-time", "setup-time", "downtime")) {
                assertTrue(done.has(f), f + " in " + done);
            }
            JsonNode ram = done.get("ram");
            for (String f : List.of("transferred", "remaining", "total", "duplicate", "normal", "normal-bytes",
                    "dirty-pages-rate", "mbps", "dirty-sync-count", "pages-per-second")) {
                assertTrue(ram.has(f), "ram." + f + " in " + done);
            }
            assertEquals(96L << 20, ram.get("total").asLong());
            assertTrue(ram.get("normal").asLong() > (24L << 20) / 4096, "the touched pages went: " + done);
            assertTrue(ram.get("duplicate").asLong() > 0, "zero pages went as markers: " + done);
            assertTrue(done.get("downtime").asLong() <= 300 + 50, "downtime near the limit: " + done);
            assertEquals("postmigrate", p.status(p.src));
            p.assertTargetContinuesGuest();
            assertEquals("running", p.status(p.dst));
            // The events a QMP client sees on each side.
            assertEquals("setup", p.src.awaitEvent("MIGRATION", T).get("data").get("status").asText());
            assertEquals("active", p.src.awaitEvent("MIGRATION", T).get("data").get("status").asText());
            p.src.awaitEvent("MIGRATION_PASS", T);
            JsonNode stop = p.src.awaitEvent("STOP", T);
            assertEquals("completed", p.src.awaitEvent("MIGRATION", T).get("data").get("status").asText());
            JsonNode resume = p.dst.awaitEvent("RESUME", T);
            // STOP carries the moment the source's vCPUs stopped (as QEMU's), which is before the
            // target resumed: a STOP stamped when the control thread got round to it could come
            // after the target's RESUME (host clock, both processes).
            assertTrue(micros(stop) < micros(resume), "STOP " + stop + " before RESUME " + resume);
            assertEquals("completed", ok(p.dst.execute("query-migrate")).get("status").asText());
        }
    }

    private static long micros(JsonNode event) {
        return event.at("/timestamp/seconds").asLong() * 1_000_000 + event.at("/timestamp/microseconds").asLong();
    }

    @Test
    void overUnixWithMultifd(@TempDir Path dir) throws Exception {
        try (MigrationPair p = MigrationPair.start(dir, GUEST)) {
            Path sock = dir.resolve("mig.sock");
            p.startTarget("defer");
            for (var c : List.of(p.src, p.dst)) {
                ok(c.execute("migrate-set-capabilities",
                        "{\"capabilities\": [{\"capability\": \"multifd\", \"state\": true}]}"));
                ok(c.execute("migrate-set-parameters", "{\"multifd-channels\": 3}"));
            }
            ok(p.dst.execute("migrate-incoming", "{\"uri\": \"unix:" + sock + "\"}"));
            ok(p.src.execute("migrate", "{\"uri\": \"unix:" + sock + "\"}"));
            JsonNode done = p.awaitSourceEnd();
            assertEquals("completed", done.get("status").asText(), done.toString());
            long multifd = done.at("/ram/multifd-bytes").asLong();
            assertTrue(multifd > 0 && multifd <= done.at("/ram/transferred").asLong() * 2,
                    "RAM went over the multifd channels: " + done);
            p.assertTargetContinuesGuest();
        }
    }

    /**
     * libvirt's sequence over descriptors it passes: target started paused with -incoming
     * defer, getfd on both sides, migrate-incoming fd:, migrate fd:, then cont on the target.
     */
    @Test
    void overFdsPassedWithGetfdThenContOnThePausedTarget(@TempDir Path dir) throws Exception {
        try (MigrationPair p = MigrationPair.start(dir, GUEST)) {
            p.startTarget("defer", "-S");
            int[] pair = UnixSocket.socketPair();
            try {
                p.dst.sendWithFds("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"migrate\"}}", pair[1]);
                ok(p.dst.reply(T));
                p.src.sendWithFds("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"migrate\"}}", pair[0]);
                ok(p.src.reply(T));
            } finally {
                LibC.close(pair[0]);
                LibC.close(pair[1]);
            }
            ok(p.dst.execute("migrate-incoming", "{\"uri\": \"fd:migrate\"}"));
            ok(p.src.execute("migrate", "{\"uri\": \"fd:migrate\", \"detach\": true}"));
            JsonNode done = p.awaitSourceEnd();
            assertEquals("completed", done.get("status").asText(), done.toString());
            JsonNode in = MigrationPair.awaitStatusBeyond(p.dst, T, "setup", "active");
            assertEquals("completed", in.get("status").asText(), in.toString());
            assertEquals("paused", p.status(p.dst), "-S: the target waits for cont");
            ok(p.dst.execute("cont"));
            p.assertTargetContinuesGuest();
        }
    }

    @Test
    void saveToAFileAndRestoreFromIt(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("guest.mig");
        try (MigrationPair p = MigrationPair.start(dir, GUEST)) {
            ok(p.src.execute("migrate", "{\"uri\": \"file:" + file + "\"}"));
            JsonNode done = p.awaitSourceEnd();
            assertEquals("completed", done.get("status").asText(), done.toString());
            assertEquals("postmigrate", p.status(p.src));
            assertTrue(Files.size(file) > (24L << 20), "the file holds the touched RAM");
            p.startTarget("file:" + file);
            p.assertTargetContinuesGuest();
        }
    }
}
