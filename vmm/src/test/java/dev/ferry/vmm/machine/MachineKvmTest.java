package dev.ferry.vmm.machine;

import dev.ferry.vmm.hypervisor.kvm.Kvm;
import dev.ferry.vmm.machine.migration.KvmDirtyLog;
import dev.ferry.vmm.os.Threads;
import dev.ferry.vmm.testing.KvmAvailability;
import dev.ferry.vmm.testing.ProcSelf;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A whole machine in this JVM, on /dev/kvm, looked at from the inside. */
@Tag("kvm")
class MachineKvmTest {

    @BeforeAll
    static void kvm() {
        KvmAvailability.assumeKvm();
    }

    private static MachineConfig config(Path serial, int cpus, String cmdline) {
        return new MachineConfig("t", 64L << 20, cpus, null, "",
                List.of(new MachineConfig.FwCfgFile("opt/ferry/cmdline", cmdline, null)),
                new SerialConfig.File(serial), false, false, null);
    }

    private static String awaitSerial(Path serial, String text) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String s = Files.exists(serial) ? Files.readString(serial, StandardCharsets.UTF_8) : "";
            if (s.contains(text)) {
                return s;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("serial never showed '" + text + "': "
                + (Files.exists(serial) ? Files.readString(serial) : "(no file)"));
    }

    @Test
    void guestDeclaresSharedPagesThroughThePortChannel(@TempDir Path tmp) throws Exception {
        Path serial = tmp.resolve("serial.log");
        try (Kvm kvm = Kvm.open(); Machine m = Machine.create(config(serial, 1, "mem=8 rate=8 shared=25"), kvm)) {
            m.start().get();
            awaitSerial(serial, "hb=1 ");
            assertEquals(RunState.RUNNING, m.state());
            long workloadPages = 8L * 256;
            // A quarter of the workload pages, declared before they were touched.
            assertEquals(workloadPages / 4, m.pageStates().sharedCount());
            m.quit("test").get();
            assertEquals(0, m.exitStatus().get(10, TimeUnit.SECONDS));
            assertEquals(RunState.SHUTDOWN, m.state());
        }
    }

    @Test
    void powerButtonMakesTheGuestPowerOff(@TempDir Path tmp) throws Exception {
        Path serial = tmp.resolve("serial.log");
        try (Kvm kvm = Kvm.open(); Machine m = Machine.create(config(serial, 2, "mode=idle hb=100"), kvm)) {
            List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
            m.addListener(new MachineListener() {
                @Override
                public void shutdown(boolean guest, String reason) {
                    events.add("shutdown guest=" + guest + " reason=" + reason);
                }
            });
            m.start().get();
            awaitSerial(serial, "hb=1 ");
            m.powerdown();
            assertEquals(0, m.exitStatus().get(10, TimeUnit.SECONDS));
            assertTrue(awaitSerial(serial, "powerdown requested").contains("powering off"));
            assertEquals(List.of("shutdown guest=true reason=guest-shutdown"), events);
        }
    }
    @Test
    void aCompletedOutgoingMigrationLeavesDirtyLoggingOnUntilTheGuestRunsAgain(@TempDir Path tmp)
            throws Exception {
        Path serial = tmp.resolve("serial.log");
        try (Kvm kvm = Kvm.open(); Machine m = Machine.create(config(serial, 1, "mem=8 rate=8 hb=100"), kvm)) {
            m.start().get();
            awaitSerial(serial, "hb=1 ");
            KvmDirtyLog log = m.onControlThread(() -> {
                m.switchover().takeOverDirtyLogOnControlThread();
                return new KvmDirtyLog(m.switchover().vmOnControlThread(), m.ram());
            }).get();
            log.start();
            AtomicInteger stops = new AtomicInteger();
            m.switchover().freezeVcpusForMigration(false);
            m.onControlThread(m.switchover()::enterFinishMigrateOnControlThread).get();
            m.onControlThread(() -> {
                m.switchover().finishOutgoingMigrationOnControlThread(() -> {
                    stops.incrementAndGet();
                    log.stop();
                });
                return null;
            }).get();
            assertEquals(RunState.POSTMIGRATE, m.state());
            assertEquals(0, stops.get(), "ended while the target starts the guest");
            m.onControlThread(log::fetchAndClear).get();     // KVM still logs: no ENOENT

            m.onControlThread(() -> {
                m.resumeOnControlThread();     // cont in postmigrate
                return null;
            }).get();
            assertEquals(1, stops.get());
            ExecutionException off = assertThrows(ExecutionException.class,
                    () -> m.onControlThread(log::fetchAndClear).get());
            assertTrue(off.getCause().getMessage().contains("KVM_GET_DIRTY_LOG"), off.getCause().toString());
            assertEquals(RunState.RUNNING, m.state());
            assertGuestGoesOn(serial);
        }
    }

    @Test
    void aRealTimeFreezeRunsTheVcpuThreadsAheadUntilTheThawAndTheGuestGoesOn(@TempDir Path tmp) throws Exception {
        Path serial = tmp.resolve("serial.log");
        try (Kvm kvm = Kvm.open(); Machine m = Machine.create(config(serial, 2, "mem=8 rate=8 hb=100"), kvm)) {
            m.start().get();
            awaitSerial(serial, "hb=1 ");
            int[] tids = m.vcpuThreadIds();
            org.junit.jupiter.api.Assumptions.assumeTrue(Threads.enterRealtime(tids[0])
                    && Threads.setPolicy(tids[0], Threads.SCHED_OTHER),
                    "this process may not use SCHED_FIFO");

            m.switchover().freezeVcpusForMigration(true);
            for (int tid : tids) {
                assertEquals(Threads.SCHED_FIFO, ProcSelf.schedulingPolicyOf(tid),
                        "frozen, parked, still ahead: nothing to undo before the thaw");
            }
            m.onControlThread(() -> {
                m.switchover().resumeAfterMigrationOnControlThread(null);    // the migration failed: thaw
                return null;
            }).get();
            for (int tid : tids) {
                assertEquals(Threads.SCHED_OTHER, ProcSelf.schedulingPolicyOf(tid),
                        "a vCPU runs the guest as a time-sharing thread again");
            }
            assertGuestGoesOn(serial);
        }
    }

    /** The guest makes its next heartbeat, and has found no error in its memory so far. */
    private static void assertGuestGoesOn(Path serial) throws Exception {
        String before = Files.readString(serial);
        awaitSerial(serial, "hb=" + (heartbeats(before) + 1) + " ");
        assertTrue(Files.readString(serial).contains("errors=0"));
    }

    @Test
    void aScratchVcpuRehearsesTheStateTransferBesideTheRunningGuest(@TempDir Path tmp) throws Exception {
        Path serial = tmp.resolve("serial.log");
        try (Kvm kvm = Kvm.open(); Machine m = Machine.create(config(serial, 1, "mem=8 rate=8 hb=100"), kvm)) {
            m.start().get();
            awaitSerial(serial, "hb=1 ");
            List<String> before = ProcSelf.kvmDescriptors();
            try (ScratchVcpu scratch = m.switchover().scratchVcpu()) {
                for (int i = 0; i < 3; i++) {
                    scratch.saveAndRestore();
                }
                assertEquals(before.size() + 2, ProcSelf.kvmDescriptors().size(), "a VM and its vCPU of its own");
            }
            assertEquals(before, ProcSelf.kvmDescriptors(), "closed with the scratch vCPU");
            assertEquals(RunState.RUNNING, m.state());
            int hb = heartbeats(Files.readString(serial));
            assertTrue(awaitSerial(serial, "hb=" + (hb + 1) + " ").contains("errors=0"));
        }
    }

    private static int heartbeats(String serial) {
        java.util.regex.Matcher hb = java.util.regex.Pattern.compile("hb=(\\d+) uptime").matcher(serial);
        int last = -1;
        while (hb.find()) {
            last = Integer.parseInt(hb.group(1));
        }
        return last;
    }
}
