package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.state.StateSection;
import dev.ferry.vmm.hypervisor.kvm.Kvm;
import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.MachineConfig;
import dev.ferry.vmm.machine.SerialConfig;
import dev.ferry.vmm.memory.GuestRam;
import dev.ferry.vmm.memory.MemoryLayout;
import dev.ferry.vmm.testing.KvmAvailability;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The rehearsal is a real migration between two scratch RAM files; its self-check must be able to fail. */
class MigrationRehearsalTest {

    @Test
    @Tag("kvm")
    void scratchMigrationCopiesEveryPageAndState() throws Exception {
        KvmAvailability.assumeKvm();
        MachineConfig config = new MachineConfig("rehearsal-test", 16L << 20, 1, null, "", List.of(),
                new SerialConfig.Discard(), false, false, null);
        try (Kvm kvm = Kvm.open(); Machine m = Machine.create(config, kvm)) {
            List<StateSection> devices = m.saveDevices();
            assertDoesNotThrow(() -> MigrationRehearsal.migrateOnce(devices));
        }
    }

    @Test
    void selfCheckNoticesOneChangedByte() throws Exception {
        MemoryLayout layout = new MemoryLayout(MigrationRehearsal.SCRATCH_RAM);
        try (GuestRam a = GuestRam.create(layout, "test-a"); GuestRam b = GuestRam.create(layout, "test-b")) {
            MigrationRehearsal.fill(a);
            MigrationRehearsal.fill(b);
            MigrationRehearsal.compare(a, b);
            b.writeInt(0x5008, b.readInt(0x5008) ^ 1);
            var e = assertThrows(MigrationRehearsal.SelfCheckFailed.class, () -> MigrationRehearsal.compare(a, b));
            assertTrue(e.getMessage().contains("0x5008"), e.getMessage());
        }
    }
}
