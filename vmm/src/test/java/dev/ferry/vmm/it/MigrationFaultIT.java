package dev.ferry.vmm.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.migration.stream.StreamFormat;
import dev.ferry.vmm.testing.FaultProxy;
import dev.ferry.vmm.testing.KvmAvailability;
import dev.ferry.vmm.testing.MigrationPair;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static dev.ferry.vmm.testing.MigrationPair.T;
import static dev.ferry.vmm.testing.MigrationPair.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Faults during live migration between two Ferry processes: a damaged stream (flipped byte,
 * oversized length, wrong version), a cut connection, a mismatched or killed target, and
 * migrate_cancel while copying and while paused before switchover. Each must give a clear
 * error-desc, leave the source guest running with errors=0, and the next migration must work.
 */
@Tag("kvm")
class MigrationFaultIT {

    static final String[] GUEST = {"-m", "96M", "-smp", "2", "-nographic", "-append", "mem=24 rate=32 hb=100"};

    @BeforeAll
    static void kvm() {
        KvmAvailability.assumeKvm();
    }

    /** Starts the target listening again (after a failure it stays in inmigrate) and returns its port. */
    private static int listen(MigrationPair p) throws Exception {
        JsonNode st = MigrationPair.awaitStatusBeyond(p.dst, T, "active");
        assertTrue(!st.has("status") || List.of("failed", "none").contains(st.get("status").asText()), st.toString());
        assertEquals("inmigrate", p.status(p.dst), "a failed incoming migration never starts the guest");
        ok(p.dst.execute("migrate-incoming", "{\"uri\": \"tcp:127.0.0.1:0\"}"));
        return p.targetPort();
    }

    private static String failedMigrationVia(MigrationPair p, FaultProxy proxy) throws Exception {
        ok(p.src.execute("migrate", "{\"uri\": \"tcp:127.0.0.1:" + proxy.port() + "\"}"));
        JsonNode end = p.awaitSourceEnd();
        proxy.close();
        assertEquals("failed", end.get("status").asText(), end.toString());
        p.assertSourceRunsWithoutErrors();
        return end.get("error-desc").asText();
    }

    @Test
    void damagedStreamsAreRefusedAndTheSourceKeepsRunning(@TempDir Path dir) throws Exception {
        try (MigrationPair p = MigrationPair.start(dir, GUEST)) {
            p.startTarget("defer");

            String e = failedMigrationVia(p, FaultProxy.damaging(listen(p), (o, b) -> o == 200_000 ? b ^ 0x40 : b));
            assertTrue(e.contains("the target refused the migration") && e.contains("checksum mismatch")
                    && e.contains("stream offset"), e);

            // Byte 20..23: the length of the first record (CONFIG), made huge.
            e = failedMigrationVia(p, FaultProxy.damaging(listen(p), (o, b) -> o >= 20 && o < 24 ? 0xFF : b));
            assertTrue(e.contains("CONFIG record claims 4294967295 bytes, more than its limit"), e);

            // Byte 8..9: the stream's major version.
            e = failedMigrationVia(p, FaultProxy.damaging(listen(p), (o, b) -> o == 9 ? 9 : b));
            assertTrue(e.contains("stream format version 9." + StreamFormat.MINOR + " is not supported"), e);

            // The connection cut in the middle of the RAM.
            e = failedMigrationVia(p, FaultProxy.cutting(listen(p), 3_000_000));
            assertTrue(e.contains("failed") || e.contains("closed"), e);

            // And then it works.
            ok(p.src.execute("migrate", "{\"uri\": \"tcp:127.0.0.1:" + listen(p) + "\"}"));
            assertEquals("completed", p.awaitSourceEnd().get("status").asText());
            p.assertTargetContinuesGuest();
        }
    }

    @Test
    void cancelWhileCopyingAndBeforeSwitchoverThenRetry(@TempDir Path dir) throws Exception {
        try (MigrationPair p = MigrationPair.start(dir, GUEST)) {
            p.startTarget("defer");
            // Copying: a slow link keeps the first pass going.
            ok(p.src.execute("migrate-set-parameters", "{\"max-bandwidth\": 4194304}"));
            ok(p.src.execute("migrate", "{\"uri\": \"tcp:127.0.0.1:" + listen(p) + "\"}"));
            MigrationPair.awaitStatusBeyond(p.src, T, "setup");
            Thread.sleep(300);
            ok(p.src.execute("migrate_cancel"));
            JsonNode end = p.awaitSourceEnd();
            assertEquals("cancelled", end.get("status").asText(), end.toString());
            p.assertSourceRunsWithoutErrors();

            // Paused before switchover: the guest is stopped; cancelling resumes it.
            ok(p.src.execute("migrate-set-parameters", "{\"max-bandwidth\": 0}"));
            ok(p.src.execute("migrate-set-capabilities",
                    "{\"capabilities\": [{\"capability\": \"pause-before-switchover\", \"state\": true}]}"));
            ok(p.src.execute("migrate", "{\"uri\": \"tcp:127.0.0.1:" + listen(p) + "\"}"));
            JsonNode paused = MigrationPair.awaitStatusBeyond(p.src, T, "setup", "active");
            assertEquals("pre-switchover", paused.get("status").asText(), paused.toString());
            assertEquals("finish-migrate", p.status(p.src));
            JsonNode wrong = p.src.execute("migrate-continue", "{\"state\": \"active\"}");
            assertEquals("Migration not in expected state: pre-switchover", wrong.get("error").get("desc").asText());
            ok(p.src.execute("migrate_cancel"));
            assertEquals("cancelled", p.awaitSourceEnd().get("status").asText());
            p.assertSourceRunsWithoutErrors();

            // The same, continued: it completes.
            ok(p.src.execute("migrate", "{\"uri\": \"tcp:127.0.0.1:" + listen(p) + "\"}"));
            paused = MigrationPair.awaitStatusBeyond(p.src, T, "setup", "active");
            assertEquals("pre-switchover", paused.get("status").asText(), paused.toString());
            ok(p.src.execute("migrate-continue", "{\"state\": \"pre-switchover\"}"));
            assertEquals("completed", p.awaitSourceEnd().get("status").asText());
            p.assertTargetContinuesGuest();
        }
    }

    @Test
    void aMismatchedTargetAndAKilledTargetLeaveTheSourceRunning(@TempDir Path dir) throws Exception {
        try (MigrationPair p = MigrationPair.start(dir, GUEST)) {
            p.startTargetWith(List.of("-m", "64M", "-smp", "2", "-nographic"), "tcp:127.0.0.1:0");
            ok(p.src.execute("migrate", "{\"uri\": \"tcp:127.0.0.1:" + p.targetPort() + "\"}"));
            JsonNode end = p.awaitSourceEnd();
            assertEquals("failed", end.get("status").asText(), end.toString());
            String e = end.get("error-desc").asText();
            assertTrue(e.contains("RAM size is 96 MiB on the source and 64 MiB here"), e);
            p.assertSourceRunsWithoutErrors();

            p.startTarget("tcp:127.0.0.1:0");
            ok(p.src.execute("migrate-set-parameters", "{\"max-bandwidth\": 4194304}"));
            ok(p.src.execute("migrate", "{\"uri\": \"tcp:127.0.0.1:" + p.targetPort() + "\"}"));
            MigrationPair.awaitStatusBeyond(p.src, T, "setup");
            Thread.sleep(300);
            p.target.close();
            end = p.awaitSourceEnd();
            assertEquals("failed", end.get("status").asText(), end.toString());
            p.assertSourceRunsWithoutErrors();

            p.startTarget("tcp:127.0.0.1:0");
            ok(p.src.execute("migrate-set-parameters", "{\"max-bandwidth\": 0}"));
            ok(p.src.execute("migrate", "{\"uri\": \"tcp:127.0.0.1:" + p.targetPort() + "\"}"));
            assertEquals("completed", p.awaitSourceEnd().get("status").asText());
            p.assertTargetContinuesGuest();
        }
    }
}
