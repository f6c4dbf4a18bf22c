package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.state.StateSection;
import dev.ferry.migration.stream.StreamException;
import dev.ferry.vmm.hypervisor.kvm.Kvm;
import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.MachineConfig;
import dev.ferry.vmm.machine.SerialConfig;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.testing.KvmAvailability;
import dev.ferry.vmm.tuning.SelfCheckFailed;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The rehearsal's scratch migration runs between two scratch RAM files; its self-check must be able to fail. */
class ScratchMigrationTest {

    @Test
    @Tag("kvm")
    void scratchMigrationCopiesEveryPageAndState() throws Exception {
        KvmAvailability.assumeKvm();
        MachineConfig config = new MachineConfig("rehearsal-test", 16L << 20, 1, null, "", List.of(),
                new SerialConfig.Discard(), false, false, null);
        try (Kvm kvm = Kvm.open(); Machine m = Machine.create(config, kvm)) {
            List<StateSection> devices = m.switchover().saveDevices();
            assertDoesNotThrow(() -> ScratchMigration.migrateOnce(devices));
        }
    }

    @Test
    void selfCheckNoticesOneChangedByte() throws Exception {
        MemoryLayout layout = new MemoryLayout(ScratchMigration.SCRATCH_RAM);
        try (GuestRam a = GuestRam.create(layout, "test-a"); GuestRam b = GuestRam.create(layout, "test-b")) {
            ScratchMigration.fill(a);
            ScratchMigration.fill(b);
            ScratchMigration.compare(a, b);
            b.writeInt(0x5008, b.readInt(0x5008) ^ 1);
            var e = assertThrows(SelfCheckFailed.class, () -> ScratchMigration.compare(a, b));
            assertTrue(e.getMessage().contains("0x5008"), e.getMessage());
        }
    }

    @Test
    void pageStateCodecRoundTripsBothFormsOfA4GiBBitmap() {
        long[] words = new long[16384];          // 4 GiB: every 4th page of its first 512 MiB shared
        java.util.Arrays.fill(words, 0, 2048, 0x1111111111111111L);
        assertDoesNotThrow(() -> ScratchMigration.pageStateRoundTrip(1L << 20, words));
        long[] dense = new long[16384];
        for (int i = 0; i < dense.length; i++) {
            dense[i] = i;                        // no two neighbours equal: word by word
        }
        assertDoesNotThrow(() -> ScratchMigration.pageStateRoundTrip(1L << 20, dense));
        assertThrows(StreamException.class,
                () -> ScratchMigration.pageStateRoundTrip(1L << 20, new long[16383]), "a bitmap one word short");
    }
}
