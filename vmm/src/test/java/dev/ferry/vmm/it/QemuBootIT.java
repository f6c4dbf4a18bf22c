package dev.ferry.vmm.it;

import dev.ferry.vmm.boot.FirmwareAbi;
import dev.ferry.vmm.testing.FerryProcess;
import dev.ferry.vmm.testing.FerryProcess.Heartbeat;
import dev.ferry.vmm.testing.KvmAvailability;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The very same firmware ELF boots under QEMU and prints the same heartbeat format, which is
 * what makes side-by-side benchmarks fair.
 */
@Tag("kvm")
class QemuBootIT {

    private static final Duration BOOT = Duration.ofSeconds(30);
    /** The heartbeat line, field by field, as firmware-stub/README.md documents it. */
    static final Pattern HEARTBEAT_FORMAT = Pattern.compile(
            "^ferry: hb=\\d+ uptime_ms=\\d+ cpus=\\d+ touched_mib=\\d+ pages_verified=\\d+ pages_written=\\d+ errors=\\d+$");

    @BeforeAll
    static void kvm() {
        KvmAvailability.assumeKvm();
    }

    static Path qemu() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path p = Path.of(dir, "qemu-system-x86_64");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    static Path extractFirmware(Path dir) throws Exception {
        Path elf = dir.resolve("ferry-stub.elf");
        try (InputStream in = QemuBootIT.class.getResourceAsStream(FirmwareAbi.DEFAULT_IMAGE)) {
            assertNotNull(in, "firmware resource");
            Files.copy(in, elf);
        }
        return elf;
    }

    private static String heartbeatLine(FerryProcess p) throws InterruptedException {
        Heartbeat h = p.awaitHeartbeat(2, BOOT);
        return h.line().substring(h.line().indexOf("ferry: hb="));
    }

    /*
     * Without TSC-deadline mode (QEMU can hide it; Ferry passes the host's) the firmware paces its
     * sleeps with the LAPIC timer in one-shot mode, calibrated against the TSC at boot: every
     * vCPU still keeps the rate (firmware-stub/README.md, "Idling").
     */
    @Test
    void withoutTscDeadlineTheOneShotTimerKeepsEveryVcpuAtItsPace(@TempDir Path tmp) throws Exception {
        Path qemu = qemu();
        assumeTrue(qemu != null, "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)");
        Path elf = extractFirmware(tmp);
        try (FerryProcess q = FerryProcess.start(List.of(qemu.toString(), "-enable-kvm", "-M", "microvm",
                "-cpu", "host,-arch-capabilities,-tsc-deadline", "-m", "128M", "-smp", "2", "-nographic",
                "-no-reboot", "-nodefaults", "-serial", "stdio", "-kernel", elf.toString(),
                "-fw_cfg", "name=opt/ferry/cmdline,string=mem=8 rate=8 hb=500"))) {
            String boot = q.awaitLineContaining("timer=", BOOT);
            assertTrue(boot.contains("timer=oneshot apic_khz="), boot);
            Heartbeat a = q.awaitHeartbeat(3, BOOT);
            Heartbeat b = q.awaitHeartbeat(7, BOOT);
            assertEquals(0, b.errors(), b.line());
            // rate=8: 2048 pages a second over both vCPUs, 4096 in the 2 s from hb=3 to hb=7.
            long verified = b.pagesVerified() - a.pagesVerified();
            assertTrue(verified > 0.8 * 4096 && verified < 1.2 * 4096, verified + " pages in 2 s: " + b.line());
        }
    }

    @Test
    void theSameElfBootsUnderQemuMicrovmAndFerryWithTheSameHeartbeat(@TempDir Path tmp) throws Exception {
        Path qemu = qemu();
        assumeTrue(qemu != null, "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)");
        Path elf = extractFirmware(tmp);
        String cmdline = "name=opt/ferry/cmdline,string=mem=8 rate=16";
        String qemuLine;
        try (FerryProcess q = FerryProcess.start(List.of(qemu.toString(), "-enable-kvm", "-M", "microvm",
                "-cpu", "host,-arch-capabilities", "-m", "128M", "-smp", "2", "-nographic", "-no-reboot",
                "-nodefaults", "-serial", "stdio", "-kernel", elf.toString(), "-fw_cfg", cmdline))) {
            q.awaitLineContaining("Ferry firmware-stub", BOOT);
            qemuLine = heartbeatLine(q);
        }
        String ferryLine;
        try (FerryProcess f = FerryProcess.startFerry("-m", "128M", "-smp", "2", "-nographic",
                "-kernel", elf.toString(), "-fw_cfg", cmdline)) {
            ferryLine = heartbeatLine(f);
        }
        assertTrue(HEARTBEAT_FORMAT.matcher(qemuLine).matches(), "QEMU: " + qemuLine);
        assertTrue(HEARTBEAT_FORMAT.matcher(ferryLine).matches(), "Ferry: " + ferryLine);
        assertEquals(0, Heartbeat.parse(qemuLine).errors());
        assertEquals(0, Heartbeat.parse(ferryLine).errors());
        assertTrue(qemuLine.contains("cpus=2") && ferryLine.contains("cpus=2"), qemuLine + " / " + ferryLine);
    }

    @Test
    void selftestPassesUnderQemuWithIsaDebugExit(@TempDir Path tmp) throws Exception {
        Path qemu = qemu();
        assumeTrue(qemu != null, "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)");
        Path elf = extractFirmware(tmp);
        try (FerryProcess q = FerryProcess.start(List.of(qemu.toString(), "-enable-kvm", "-M", "microvm",
                "-cpu", "host,-arch-capabilities", "-m", "64M", "-smp", "2", "-nographic", "-no-reboot",
                "-nodefaults", "-serial", "stdio", "-device", "isa-debug-exit", "-kernel", elf.toString(),
                "-append", "mode=selftest"))) {
            assertEquals(1, q.awaitExit(BOOT), q.output());
            assertTrue(q.output().contains("selftest pass"), q.output());
        }
    }
}
