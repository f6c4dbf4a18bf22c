package dev.ferry.vmm.it;

import dev.ferry.vmm.testing.FerryProcess;
import dev.ferry.vmm.testing.FerryProcess.Heartbeat;
import dev.ferry.vmm.testing.KvmAvailability;
import dev.ferry.vmm.testing.VcpuThreads;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The packaged VMM booting the embedded firmware stub on /dev/kvm, as a user would run it. */
@Tag("kvm")
class StubBootIT {

    private static final Duration BOOT = Duration.ofSeconds(30);

    @BeforeAll
    static void kvm() {
        KvmAvailability.assumeKvm();
    }

    @Test
    void bootsPrintsTheBannerAndHeartbeatsWithoutErrors() throws Exception {
        try (FerryProcess ferry = FerryProcess.startFerry("-m", "64M", "-nographic",
                "-append", "mem=8 rate=16")) {
            ferry.awaitLineContaining("Ferry firmware-stub", BOOT);
            Heartbeat first = ferry.awaitHeartbeat(1, BOOT);
            Heartbeat later = ferry.awaitHeartbeat((int) first.hb() + 2, BOOT);
            assertTrue(later.pagesVerified() > first.pagesVerified(), "the workload advances: " + later.line());
            assertEquals(0, later.errors(), later.line());
        }
    }

    @Test
    void twoVcpusBothRunTheWorkload() throws Exception {
        try (FerryProcess ferry = FerryProcess.startFerry("-m", "128M", "-smp", "2", "-nographic",
                "-append", "mem=16 rate=32")) {
            ferry.awaitLineContaining("2 of 2 cpus online", BOOT);
            Heartbeat h = ferry.awaitHeartbeat(3, BOOT);
            assertTrue(h.line().contains("cpus=2"), h.line());
            assertEquals(0, h.errors(), h.line());
            assertTrue(h.pagesVerified() > 0, h.line());
        }
    }

    /*
     * A paced vCPU halts between its bursts of visits (firmware-stub/README.md, "Idling") and
     * gives its host core back: it blocks in KVM_RUN about 1000/tick times a second (voluntary
     * context switches, which no load of the machine can add or remove) and uses a few percent of
     * a core. With tick=0 it busy-waits: it never blocks.
     */
    @Test
    void pacedVcpusHaltBetweenVisitsAndGiveTheirCoresBack() throws Exception {
        Map<String, VcpuUse> use = vcpuUse("mem=16 rate=8");
        assertEquals(2, use.size(), use.toString());
        for (Map.Entry<String, VcpuUse> v : use.entrySet()) {
            assertTrue(v.getValue().blocksPerSecond() > 50, v.getKey() + " halts between bursts: " + use);
            assertTrue(v.getValue().cores() < 0.25, v.getKey() + " leaves its core: " + use);
        }
    }

    @Test
    void tickZeroBusyWaitsBetweenVisits() throws Exception {
        Map<String, VcpuUse> use = vcpuUse("mem=16 rate=8 tick=0");
        assertEquals(2, use.size(), use.toString());
        for (Map.Entry<String, VcpuUse> v : use.entrySet()) {
            assertTrue(v.getValue().blocksPerSecond() < 20, v.getKey() + " never halts with tick=0: " + use);
        }
    }

    /** One vCPU of a -smp 2 guest: cores used and times blocked per second. */
    private record VcpuUse(double cores, double blocksPerSecond) {
    }

    /** Each vCPU's use between heartbeats 2 and 4, with the workload advancing without errors. */
    private static Map<String, VcpuUse> vcpuUse(String workload) throws Exception {
        try (FerryProcess ferry = FerryProcess.startFerry("-m", "128M", "-smp", "2", "-nographic",
                "-append", workload)) {
            Heartbeat from = ferry.awaitHeartbeat(2, BOOT);
            long t0 = System.nanoTime();
            Map<String, VcpuThreads.Sample> before = VcpuThreads.sample(ferry.pid());
            Heartbeat to = ferry.awaitHeartbeat(4, BOOT);
            Map<String, VcpuThreads.Sample> after = VcpuThreads.sample(ferry.pid());
            double wall = (System.nanoTime() - t0) / 1e9;
            assertEquals(0, to.errors(), to.line());
            assertTrue(to.pagesVerified() > from.pagesVerified(), "the workload advances: " + to.line());
            Map<String, VcpuUse> use = new TreeMap<>();
            for (String name : after.keySet()) {
                VcpuThreads.Sample a = before.get(name);
                VcpuThreads.Sample b = after.get(name);
                use.put(name, new VcpuUse((b.cpuSeconds() - a.cpuSeconds()) / wall,
                        (b.voluntarySwitches() - a.voluntarySwitches()) / wall));
            }
            return use;
        }
    }

    @Test
    void selftestExitsThroughTheDebugExitPortWithQemusStatus() throws Exception {
        try (FerryProcess ferry = FerryProcess.startFerry("-m", "64M", "-smp", "2", "-nographic",
                "-append", "mode=selftest")) {
            int status = ferry.awaitExit(BOOT);
            assertTrue(ferry.output().contains("selftest pass"), ferry.output());
            assertEquals(1, status, "(0 << 1) | 1 for a passing self-test; output:\n" + ferry.output());
        }
    }

    @Test
    void fwCfgFilesReachTheGuestAndWinOverTheMultibootCommandLine() throws Exception {
        try (FerryProcess ferry = FerryProcess.startFerry("-m", "64M", "-nographic", "-append", "mode=workload",
                "-fw_cfg", "name=opt/ferry/cmdline,string=mode=idle hb=200")) {
            ferry.awaitLineContaining("mode=idle", BOOT);
            ferry.awaitHeartbeat(3, BOOT);
        }
    }

    @Test
    void tripleFaultWithNoRebootEndsTheVmmCleanly() throws Exception {
        try (FerryProcess ferry = FerryProcess.startFerry("-m", "64M", "-nographic", "-no-reboot",
                "-append", "mode=triplefault")) {
            int status = ferry.awaitExit(BOOT);
            assertEquals(0, status, ferry.output());
            assertTrue(ferry.output().contains("triple fault"), ferry.output());
            assertTrue(!ferry.output().contains("Exception in thread"), ferry.output());
        }
    }

    @Test
    void tripleFaultWithoutNoRebootResetsTheGuest() throws Exception {
        try (FerryProcess ferry = FerryProcess.startFerry("-m", "64M", "-nographic",
                "-append", "mode=triplefault")) {
            ferry.awaitLineContaining("guest reset", BOOT);
            // The firmware boots again after the reset: a second banner.
            ferry.awaitLine(l -> ferry.lines().stream().filter(x -> x.contains("Ferry firmware-stub")).count() >= 2,
                    BOOT);
            assertTrue(ferry.isAlive());
        }
    }

    @Test
    void badCommandLinesFailWithStatusOneAndAMessage() throws Exception {
        try (FerryProcess ferry = FerryProcess.startFerry("-m", "64M", "-bogus")) {
            assertEquals(1, ferry.awaitExit(BOOT));
            assertTrue(ferry.output().contains("ferry: -bogus: invalid option"), ferry.output());
        }
        try (FerryProcess ferry = FerryProcess.startFerry("-kernel", "/nonexistent/kernel.elf")) {
            assertEquals(1, ferry.awaitExit(BOOT));
            assertTrue(ferry.output().contains("could not load kernel"), ferry.output());
        }
    }
}
