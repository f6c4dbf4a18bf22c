package dev.ferry.vmm.testing;

import dev.ferry.vmm.hypervisor.CpuidEntry;
import dev.ferry.vmm.hypervisor.Hypervisor;
import dev.ferry.vmm.hypervisor.VirtualMachine;
import dev.ferry.vmm.machine.Machine;
import dev.ferry.vmm.machine.MachineConfig;
import dev.ferry.vmm.machine.SerialConfig;
import dev.ferry.vmm.machine.migration.MigrationController;

import java.io.IOException;
import java.util.List;

/**
 * A machine and its migration controller built as Main builds them, but never started: RAM and
 * devices exist, no VM does, and the run state stays prelaunch. For tests of what sits on top of
 * a machine (the QMP pipeline) on hosts without /dev/kvm; a command that would start or run the
 * guest fails, since the hypervisor makes no VMs.
 */
public final class PrelaunchMachine implements AutoCloseable {

    private final Machine machine;
    private final MigrationController migration;

    private PrelaunchMachine(Machine machine) {
        this.machine = machine;
        this.migration = new MigrationController(machine, false);
    }

    public static PrelaunchMachine create() throws IOException {
        MachineConfig config = new MachineConfig(null, 64L << 20, 1, null, "", List.of(),
                new SerialConfig.Discard(), false, false, null);
        return new PrelaunchMachine(Machine.create(config, new NoVms()));
    }

    public Machine machine() {
        return machine;
    }

    public MigrationController migration() {
        return migration;
    }

    @Override
    public void close() {
        migration.close();
        machine.close();
    }

    /** A hypervisor that offers no CPUID leaves and refuses to create a VM. */
    private static final class NoVms implements Hypervisor {

        @Override
        public VirtualMachine createVirtualMachine() {
            throw new UnsupportedOperationException("a prelaunch test machine has no VM");
        }

        @Override
        public List<CpuidEntry> supportedCpuid() {
            return List.of();
        }

        @Override
        public String description() {
            return "no hypervisor (prelaunch test machine)";
        }

        @Override
        public void close() {
        }
    }
}
