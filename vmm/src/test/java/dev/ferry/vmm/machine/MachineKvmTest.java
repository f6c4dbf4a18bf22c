package dev.ferry.vmm.machine;

import dev.ferry.vmm.hypervisor.kvm.Kvm;
import dev.ferry.vmm.testing.KvmAvailability;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
