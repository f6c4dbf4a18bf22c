package dev.ferry.vmm.machine.migration;

import dev.ferry.migration.session.Payloads;
import dev.ferry.migration.state.StateException;
import dev.ferry.migration.state.StateSection;
import dev.ferry.migration.state.StateSectionCodec;
import dev.ferry.vmm.Log;
import dev.ferry.vmm.hypervisor.Registers;
import dev.ferry.vmm.hypervisor.VcpuState;
import dev.ferry.vmm.machine.Machine;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs the state codecs once before a migration's switchover: the first Jackson mapping of a
 * record type (introspection, generated accessors) and the first use of the vCPU state calls
 * cost tens of milliseconds, which would otherwise be downtime. Measured: 160 ms switchover
 * cold, most of it first use (docs/benchmarks.md).
 */
final class StateCodecWarmup {
    private StateCodecWarmup() {}

    /** Starts the warm-up on its own thread, alongside the first pass (or the wait for a source). */
    static Thread start(Machine machine) {
        Thread t = new Thread(() -> run(machine), "migration-warmup");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Waits for the warm-up before the switchover, so the two do not compete for the CPU. */
    static void await(Thread warmup) {
        try {
            warmup.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void run(Machine machine) {
        long t0 = System.nanoTime();
        try {
            machine.onControlThread(() -> {
                machine.prepareStateTransferOnControlThread();
                return null;
            }).get();
            roundTrip(sampleVcpu());
            List<StateSection> decoded = new ArrayList<>();
            for (StateSection d : machine.onControlThread(machine::saveDevicesOnControlThread).get()) {
                decoded.add(StateSectionCodec.decode(StateSectionCodec.encode(d), Machine::deviceSectionVersion));
            }
            Machine.decodeDeviceSections(decoded);
        } catch (Exception e) {
            // Only a warm-up: the real transfer reports its own errors.
            Log.debug("state codec warm-up: " + e);
        }
        Log.debug("state codecs warmed up in " + (System.nanoTime() - t0) / 1000 + " us");
    }

    private static void roundTrip(VcpuState s) throws StateException {
        StateSection section = new StateSection(Payloads.VCPU_SECTION, Payloads.VCPU_SECTION_VERSION, 1,
                StateSectionCodec.stateOf(s), Map.of());
        StateSection back = StateSectionCodec.decode(StateSectionCodec.encode(section), Payloads.VCPU_SECTION,
                Payloads.VCPU_SECTION_VERSION);
        StateSectionCodec.stateAs(back, VcpuState.class);
    }

    /** A vCPU state of the right shape, for the codecs only. */
    static VcpuState sampleVcpu() {
        Registers.Segment seg = new Registers.Segment(0, 0xffff, 0, 3, true, 0, false, true, false, false, false,
                false);
        Registers.DescriptorTable dt = new Registers.DescriptorTable(0, 0xffff);
        Registers.Special sregs = new Registers.Special(seg, seg, seg, seg, seg, seg, seg, seg, dt, dt, 0x10, 0, 0,
                0, 0, 0, 0xfee00900L, new long[4]);
        return new VcpuState(Registers.Standard.zero(), sregs, new byte[4096], List.of(new VcpuState.Xcr(0, 1)),
                new byte[1024], new byte[64], 0, new VcpuState.DebugRegisters(0, 0, 0, 0, 0, 0, 0),
                List.of(new VcpuState.Msr(0x10, 1)));
    }
}
