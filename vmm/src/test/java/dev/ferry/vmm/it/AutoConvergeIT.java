package dev.ferry.vmm.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ferry.vmm.testing.KvmAvailability;
import dev.ferry.vmm.testing.MigrationPair;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static dev.ferry.vmm.testing.MigrationPair.T;
import static dev.ferry.vmm.testing.MigrationPair.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A guest that rewrites its 16 MiB as fast as it can (rate=0) over a link limited to 32 MiB/s:
 * precopy alone never gets the rest under the downtime limit; with auto-converge the vCPU is
 * throttled step by step (cpu-throttle-percentage) until it does, and the guest arrives intact.
 */
@Tag("kvm")
class AutoConvergeIT {

    static final String[] GUEST = {"-m", "96M", "-smp", "1", "-nographic", "-append", "mem=16 rate=0 hb=100"};

    @BeforeAll
    static void kvm() {
        KvmAvailability.assumeKvm();
    }

    @Test
    void aGuestDirtyingFasterThanTheLinkConvergesOnlyWithAutoConverge(@TempDir Path dir) throws Exception {
        try (MigrationPair p = MigrationPair.start(dir, GUEST)) {
            p.startTarget("defer");
            ok(p.src.execute("migrate-set-parameters", "{\"max-bandwidth\": 33554432, \"downtime-limit\": 100}"));

            ok(p.dst.execute("migrate-incoming", "{\"uri\": \"tcp:127.0.0.1:0\"}"));
            ok(p.src.execute("migrate", "{\"uri\": \"tcp:127.0.0.1:" + p.targetPort() + "\"}"));
            Thread.sleep(4000);
            JsonNode stuck = ok(p.src.execute("query-migrate"));
            assertEquals("active", stuck.get("status").asText(), "without auto-converge it does not converge: " + stuck);
            assertTrue(stuck.get("ram").get("dirty-sync-count").asLong() >= 3, stuck.toString());
            assertTrue(stuck.get("expected-downtime").asLong() > 100, stuck.toString());
            ok(p.src.execute("migrate_cancel"));
            assertEquals("cancelled", p.awaitSourceEnd().get("status").asText());
            p.assertSourceRunsWithoutErrors();

            ok(p.src.execute("migrate-set-capabilities",
                    "{\"capabilities\": [{\"capability\": \"auto-converge\", \"state\": true}]}"));
            JsonNode failedIn = MigrationPair.awaitStatusBeyond(p.dst, T, "active");
            assertEquals("failed", failedIn.get("status").asText(), failedIn.toString());
            ok(p.dst.execute("migrate-incoming", "{\"uri\": \"tcp:127.0.0.1:0\"}"));
            ok(p.src.execute("migrate", "{\"uri\": \"tcp:127.0.0.1:" + p.targetPort() + "\"}"));
            int maxThrottle = 0;
            JsonNode r;
            long deadline = System.nanoTime() + T.toNanos();
            do {
                Thread.sleep(50);
                r = ok(p.src.execute("query-migrate"));
                maxThrottle = Math.max(maxThrottle, r.path("cpu-throttle-percentage").asInt(0));
            } while ((r.get("status").asText().equals("active") || r.get("status").asText().equals("setup"))
                    && System.nanoTime() < deadline);
            assertEquals("completed", r.get("status").asText(), r.toString());
            assertTrue(maxThrottle >= 20, "the vCPU was throttled: " + maxThrottle);
            p.assertTargetContinuesGuest();
        }
    }
}
