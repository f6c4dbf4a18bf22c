package dev.ferry.vmm.qmpclient;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MigrateOptionsTest {

    private static MigrateOptions parse(String... args) {
        return MigrateOptions.parse(args);
    }

    private static String refusal(String... args) {
        return assertThrows(IllegalArgumentException.class, () -> MigrateOptions.parse(args)).getMessage();
    }

    @Test
    void onlyTheMonitorsAreRequiredAndNothingElseIsSet() {
        MigrateOptions o = parse("--from", "/run/src.sock", "--to", "tcp:127.0.0.1:4445", "--uri", "tcp:10.0.0.2:4444");
        assertEquals("/run/src.sock", o.from());
        assertEquals("tcp:127.0.0.1:4445", o.to());
        assertEquals("tcp:10.0.0.2:4444", o.uri());
        assertFalse(o.multifd() || o.autoConverge() || o.paused());
        assertNull(o.channels());
        assertNull(o.downtimeLimitMillis());
        assertNull(o.maxBandwidth());
        assertEquals(MigrateOptions.Progress.AUTO, o.progress());
    }

    @Test
    void everyOptionInBothSpellings() {
        MigrateOptions o = parse("--from=a.sock", "--to", "b.sock", "--multifd", "--channels=4", "--auto-converge",
                "--downtime-limit", "100", "--max-bandwidth=512M", "--progress=lines", "--paused");
        assertEquals("a.sock", o.from());
        assertEquals(4, o.channels());
        assertTrue(o.multifd() && o.autoConverge() && o.paused());
        assertEquals(100L, o.downtimeLimitMillis());
        assertEquals(512L << 20, o.maxBandwidth());
        assertEquals(MigrateOptions.Progress.LINES, o.progress());
        assertNull(o.uri(), "the default channel is a socket pair");
        assertEquals(MigrateOptions.Progress.BAR, parse("--from", "a", "--to", "b", "--progress", "bar").progress());
        assertEquals(MigrateOptions.Progress.NONE, parse("--from", "a", "--to", "b", "--progress=none").progress());
    }

    @Test
    void sizesTakeBinarySuffixes() {
        assertEquals(1L << 30, MigrateOptions.size("x", "1G"));
        assertEquals(1L << 30, MigrateOptions.size("x", "1g"));
        assertEquals(512L << 20, MigrateOptions.size("x", "512M"));
        assertEquals(512L << 20, MigrateOptions.size("x", "512MiB"));
        assertEquals(64L << 20, MigrateOptions.size("x", "64MB/s"));
        assertEquals(100L << 10, MigrateOptions.size("x", "100K"));
        assertEquals(3L << 29, MigrateOptions.size("x", "1.5G"));
        assertEquals(2L << 40, MigrateOptions.size("x", "2T"));
        assertEquals(1048576, MigrateOptions.size("x", "1048576"));
        assertEquals(10, MigrateOptions.size("x", "10B"));
        assertThrows(IllegalArgumentException.class, () -> MigrateOptions.size("x", "fast"));
        assertThrows(IllegalArgumentException.class, () -> MigrateOptions.size("x", "-1G"));
        assertThrows(IllegalArgumentException.class, () -> MigrateOptions.size("x", "1P"));
        assertThrows(IllegalArgumentException.class, () -> MigrateOptions.size("x", "99999999T"));
    }

    @Test
    void usageErrorsSayWhatIsWrong() {
        assertEquals("--from and --to are required", refusal("--from", "a"));
        assertEquals("--to needs a value", refusal("--from", "a", "--to"));
        assertEquals("unknown option '--fast'", refusal("--from", "a", "--to", "b", "--fast"));
        assertEquals("unexpected argument 'c'", refusal("--from", "a", "--to", "b", "c"));
        assertEquals("--from and --to name the same monitor", refusal("--from", "a", "--to", "a"));
        assertEquals("--channels needs --multifd", refusal("--from", "a", "--to", "b", "--channels", "2"));
        assertEquals("--channels must be between 1 and 255, got 0",
                refusal("--from", "a", "--to", "b", "--multifd", "--channels", "0"));
        assertEquals("--downtime-limit expects a number, got '1s'",
                refusal("--from", "a", "--to", "b", "--downtime-limit", "1s"));
        assertEquals("--multifd takes no value", refusal("--from", "a", "--to", "b", "--multifd=yes"));
        assertTrue(refusal("--from", "a", "--to", "b", "--progress", "fancy").startsWith("--progress is bar"));
        assertTrue(refusal("--from", "a", "--to", "b", "--uri", "exec:cat").startsWith("--uri must be tcp:"));
        assertTrue(refusal("--from", "a", "--to", "b", "--uri", "tcp:host").startsWith("--uri: expected tcp:"));
        assertTrue(refusal("--from", "tcp:host", "--to", "b", "--uri", "unix:/x").startsWith("--from: expected"));
        assertTrue(refusal("--from", "tcp:h:1", "--to", "b").contains("needs unix socket monitors"),
                "a socket pair cannot be passed over tcp");
    }

    @Test
    void helpIsAskedForAnywhere() {
        assertTrue(MigrateOptions.wantsHelp(new String[] {"--from", "a", "--help"}));
        assertTrue(MigrateOptions.wantsHelp(new String[] {"-h"}));
        assertFalse(MigrateOptions.wantsHelp(new String[] {"--from", "a"}));
    }
}
