package dev.ferry.migration.config;

import dev.ferry.migration.state.StateException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MachineIdentityTest {

    private static final MachineIdentity SOURCE = new MachineIdentity(128L << 20, 2, "none", "ab".repeat(32));

    @Test
    void roundTripsAndMatchesItself() throws Exception {
        MachineIdentity back = MachineIdentityCodec.decode(MachineIdentityCodec.encode(SOURCE));
        assertEquals(SOURCE, back);
        assertTrue(SOURCE.mismatches(back).isEmpty());
    }

    @Test
    void namesEveryMismatchInAnOperatorsWords() {
        MachineIdentity target = new MachineIdentity(64L << 20, 1, "sev-sim-guest", "cd".repeat(32));
        assertEquals(List.of("RAM size is 128 MiB on the source and 64 MiB here",
                "vCPU count is 2 on the source and 1 here",
                "confidential mode is 'none' on the source and 'sev-sim-guest' here",
                "the firmware differs (SHA-256 abababababab on the source, cdcdcdcdcdcd here)"),
                SOURCE.mismatches(target));
    }

    @Test
    void refusesMalformedConfig() {
        for (String bad : List.of("[]", "{", "{\"ram_bytes\": -1, \"vcpus\": 1, \"confidential_mode\": \"none\", "
                        + "\"firmware_sha256\": \"x\"}", "{\"ram_bytes\": 1, \"vcpus\": \"2\", "
                        + "\"confidential_mode\": \"none\", \"firmware_sha256\": \"x\"}",
                "{\"ram_bytes\": 1, \"vcpus\": 2}")) {
            assertThrows(StateException.class, () -> MachineIdentityCodec.decode(bad.getBytes(StandardCharsets.UTF_8)), bad);
        }
    }
}
