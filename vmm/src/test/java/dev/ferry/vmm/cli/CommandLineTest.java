package dev.ferry.vmm.cli;

import dev.ferry.vmm.machine.MachineConfig;
import dev.ferry.vmm.machine.SerialConfig;
import dev.ferry.vmm.qmp.MonitorAddress;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommandLineTest {

    private static MachineConfig config(String... args) {
        return ((CliRequest.Run) CommandLine.parse(args)).config();
    }

    private static String error(String... args) {
        return assertThrows(CliException.class, () -> CommandLine.parse(args)).getMessage();
    }

    @Test
    void defaultsAreOneCpuAnd128MiBWithTheEmbeddedFirmware() {
        MachineConfig c = config();
        assertEquals(128L << 20, c.memoryBytes());
        assertEquals(1, c.cpus());
        assertNull(c.kernel());
        assertInstanceOf(SerialConfig.Stdio.class, c.serial());
    }

    @Test
    void parsesTheCommonQemuOptions() {
        MachineConfig c = config("-m", "256M", "-smp", "2", "-kernel", "/tmp/k.elf", "-append", "mode=idle",
                "-name", "guest=vm1,debug-threads=on", "-pidfile", "/tmp/p", "-no-reboot", "-nographic",
                "-accel", "kvm", "-enable-kvm", "-machine", "microvm,accel=kvm", "-cpu", "host,-arch-capabilities",
                "--display", "none", "-S", "-serial", "file:/tmp/s.log");
        assertEquals(256L << 20, c.memoryBytes());
        assertEquals(2, c.cpus());
        assertEquals(Path.of("/tmp/k.elf"), c.kernel());
        assertEquals("mode=idle", c.append());
        assertEquals("vm1", c.name());
        assertEquals(Path.of("/tmp/p"), c.pidfile());
        assertTrue(c.noReboot());
        assertTrue(c.startPaused());
        assertEquals(new SerialConfig.File(Path.of("/tmp/s.log")), c.serial());
    }

    @Test
    void memorySizesFollowQemu() {
        assertEquals(512L << 20, config("-m", "512").memoryBytes());
        assertEquals(1L << 30, config("-m", "1G").memoryBytes());
        assertEquals(1536L << 20, config("-m", "size=1.5G").memoryBytes());
        assertEquals(18L << 20, config("-m", "17M").memoryBytes(), "rounded up to 2 MiB");
        assertEquals("-m lots: invalid RAM size 'lots'", error("-m", "lots"));
        assertEquals("-m 1M: RAM size must be at least 16 MiB", error("-m", "1M"));
        assertEquals("-m 1G,slots=2: invalid parameter 'slots'", error("-m", "1G,slots=2"));
    }

    @Test
    void smpAcceptsTopology() {
        assertEquals(4, config("-smp", "sockets=1,cores=2,threads=2").cpus());
        assertEquals(2, config("-smp", "cpus=2,maxcpus=2").cpus());
        assertEquals("-smp 0: 'cpus' expects a positive number, not '0'", error("-smp", "0"));
        assertTrue(error("-smp", "2,maxcpus=4").contains("hotplug"));
        assertTrue(error("-smp", "1000").contains("at most"));
    }

    @Test
    void fwCfgTakesAStringOrAFileWithCommaEscapes() {
        MachineConfig c = config("-fw_cfg", "name=opt/ferry/cmdline,string=mem=64,,rate=8",
                "-fw_cfg", "opt/blob,file=/tmp/b");
        assertEquals(List.of(new MachineConfig.FwCfgFile("opt/ferry/cmdline", "mem=64,rate=8", null),
                new MachineConfig.FwCfgFile("opt/blob", null, Path.of("/tmp/b"))), c.fwCfgFiles());
        assertEquals("-fw_cfg name=opt/x: give exactly one of 'file' and 'string'", error("-fw_cfg", "name=opt/x"));
        assertEquals("-fw_cfg name=opt/x,string=a,bogus=1: invalid parameter 'bogus'",
                error("-fw_cfg", "name=opt/x,string=a,bogus=1"));
    }

    @Test
    void serialBackends() {
        assertEquals(new SerialConfig.Discard(), config("-serial", "none").serial());
        assertEquals(new SerialConfig.UnixSocket(Path.of("/tmp/s"), true),
                config("-serial", "unix:/tmp/s,server=on,wait=off").serial());
        assertEquals(new SerialConfig.UnixSocket(Path.of("/tmp/s"), true),
                config("-serial", "unix:/tmp/s,server,nowait").serial());
        assertTrue(error("-serial", "unix:/tmp/s,server=on").contains("wait=off"));
        assertTrue(error("-serial", "vc").startsWith("-serial vc: unsupported serial backend"));
    }

    @Test
    void unknownAndIncompleteOptionsAreErrors() {
        assertEquals("-bogus: invalid option", error("-bogus"));
        assertEquals("-m: requires an argument", error("-m"));
        assertEquals("disk.img: invalid option (options start with '-'; see -help)", error("disk.img"));
        assertTrue(error("-accel", "tcg").contains("not available"));
        assertTrue(error("-cpu", "qemu64").contains("unsupported CPU model"));
        assertTrue(error("-machine", "virt").contains("unsupported machine type"));
        assertTrue(error("-display", "gtk").contains("only 'none'"));
    }

    @Test
    void versionAndHelp() {
        assertInstanceOf(CliRequest.ShowVersion.class, CommandLine.parse("-version"));
        assertInstanceOf(CliRequest.ShowHelp.class, CommandLine.parse("--help"));
    }

    @Test
    void qmpMonitorsInQemusAndLibvirtsSpelling() {
        CliRequest.Run r = (CliRequest.Run) CommandLine.parse("-qmp", "unix:/tmp/q.sock,server=on,wait=off",
                "-qmp", "tcp:127.0.0.1:4444,server,nowait",
                "-chardev", "socket,id=charmonitor,path=/tmp/m.sock,server=on,wait=off",
                "-mon", "chardev=charmonitor,id=monitor,mode=control");
        assertEquals(List.of(new MonitorAddress.Unix(Path.of("/tmp/q.sock")),
                new MonitorAddress.Tcp("127.0.0.1", 4444, false),
                new MonitorAddress.Unix(Path.of("/tmp/m.sock"))), r.monitors());
        assertTrue(!r.waitForMonitor());
        assertTrue(((CliRequest.Run) CommandLine.parse("-qmp", "unix:/tmp/q,server")).waitForMonitor());
        assertTrue(error("-qmp", "unix:/tmp/q").contains("server=on"));
        assertTrue(error("-qmp", "stdio").contains("unsupported monitor address"));
        assertTrue(error("-mon", "chardev=nope,mode=control").contains("chardev 'nope' not found"));
        assertTrue(error("-chardev", "socket,id=a,path=/x,server=on,wait=off", "-mon", "chardev=a").contains("mode=control"));
        assertTrue(error("-chardev", "pty,id=a").contains("not supported"));
        assertTrue(error("-qmp", "tcp:127.0.0.1:99999,server=on,wait=off").contains("invalid port"));
    }
}
