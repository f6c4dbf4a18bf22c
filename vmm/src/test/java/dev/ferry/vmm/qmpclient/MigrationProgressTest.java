package dev.ferry.vmm.qmpclient;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static dev.ferry.vmm.qmpclient.FakeMonitor.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MigrationProgressTest {

    static final long RAM = 96L << 20;
    static final long PAGES = RAM / 4096;

    /** An active migration's query-migrate, {@code pagesDone} pages into the RAM. */
    static MigrationFigures active(long pagesDone, long transferred, long syncs, int throttle) {
        return MigrationFigures.of(json("{\"status\": \"active\", \"expected-downtime\": 120, \"total-time\": 900, "
                + "\"setup-time\": 20, " + (throttle > 0 ? "\"cpu-throttle-percentage\": " + throttle + ", " : "")
                + "\"ram\": {\"transferred\": " + transferred + ", \"remaining\": " + (3L << 20)
                + ", \"total\": " + RAM + ", \"duplicate\": " + pagesDone / 2 + ", \"normal\": "
                + (pagesDone - pagesDone / 2) + ", \"mbps\": 2500.0, \"dirty-pages-rate\": 256, "
                + "\"dirty-sync-count\": " + syncs + ", \"page-size\": 4096}}"));
    }

    @Test
    void sizesInMibBelowAGibAndInGibAbove() {
        assertEquals("0.0 MiB", MigrationProgress.size(0));
        assertEquals("0.5 MiB", MigrationProgress.size(512 << 10));
        assertEquals("96.0 MiB", MigrationProgress.size(RAM));
        assertEquals("1023.0 MiB", MigrationProgress.size(1023L << 20));
        assertEquals("1.00 GiB", MigrationProgress.size(1L << 30));
        assertEquals("1.50 GiB", MigrationProgress.size(3L << 29));
        assertEquals("12.0 / 96.0 MiB", MigrationProgress.sizes(12L << 20, RAM));
        assertEquals("512.0 MiB / 2.00 GiB", MigrationProgress.sizes(512L << 20, 2L << 30));
    }

    @Test
    void ratesInBytesPerSecond() {
        assertEquals("312.5 MB/s", MigrationProgress.throughput(2500.0), "mbps are megabits");
        assertEquals("0.0 MB/s", MigrationProgress.throughput(0));
        assertEquals("1.0 MiB/s", MigrationProgress.rate(1L << 20));
        assertEquals(256 * 4096, active(0, 0, 1, 0).dirtyBytesPerSecond(), "dirty-pages-rate times the page size");
    }

    @Test
    void figuresFromQueryMigrate() {
        MigrationFigures f = active(PAGES / 2, 10L << 20, 0, 20);
        assertEquals("active", f.status());
        assertEquals(1, f.pass(), "Ferry: no dirty sync yet is the first pass");
        assertEquals(50, f.firstPassPercent());
        assertEquals(20, f.throttlePercent());
        assertEquals(120, f.expectedDowntimeMillis());
        assertTrue(f.hasRam());
        assertFalse(f.finished());
        MigrationFigures setup = MigrationFigures.of(json("{\"status\": \"setup\"}"));
        assertFalse(setup.hasRam());
        assertEquals(0, setup.firstPassPercent());
        assertEquals(4096, setup.pageSize());
        assertEquals(3, MigrationFigures.of(json(MigrateCommandTest.COMPLETED)).pass(),
                "after completion every pass has had its sync");
        assertTrue(MigrationFigures.of(json("{\"status\": \"cancelled\"}")).finished());
        assertEquals(100, active(PAGES * 3, RAM * 3, 2, 0).firstPassPercent(), "later passes stay at 100");
    }

    @Test
    void theBarAtZeroHalfAndFull() {
        assertEquals("pass 1 [....................]   0%  0.0 / 96.0 MiB  312.5 MB/s  downtime ~120 ms  dirty 1.0 MiB/s",
                MigrationProgress.bar(active(0, 0, 0, 0), 120));
        assertEquals("pass 1 [##########..........]  50%  24.0 / 96.0 MiB  312.5 MB/s  downtime ~120 ms  dirty 1.0 MiB/s",
                MigrationProgress.bar(active(PAGES / 2, 24L << 20, 0, 0), 120));
        assertEquals("pass 3 [####################] 100%  150.0 / 96.0 MiB  312.5 MB/s  downtime ~120 ms  throttle 30%"
                + "  dirty 1.0 MiB/s", MigrationProgress.bar(active(PAGES * 2, 150L << 20, 2, 30), 200));
        assertEquals("completed [####################] 100%  30.0 / 96.0 MiB  25.0 MB/s",
                MigrationProgress.bar(MigrationFigures.of(json(MigrateCommandTest.COMPLETED)), 120));
        assertEquals("setup: waiting for the first pages",
                MigrationProgress.bar(MigrationFigures.of(json("{\"status\": \"setup\"}")), 80));
        assertEquals("failed", MigrationProgress.bar(MigrationFigures.of(json("{\"status\": \"failed\"}")), 80));
    }

    @Test
    void aNarrowTerminalGetsAShorterBarAndTheLeastImportantFieldsGo() {
        MigrationFigures f = active(PAGES / 2, 24L << 20, 0, 40);
        String line = MigrationProgress.bar(f, 80);
        assertTrue(line.length() <= 79, line);
        assertEquals("pass 1 [#####.....]  50%  24.0 / 96.0 MiB  312.5 MB/s  downtime ~120 ms", line);
        assertTrue(MigrationProgress.bar(f, 20).length() <= 19);
        assertTrue(MigrationProgress.bar(f, 110).contains("throttle 40%"), "throttle before the dirty rate");
    }

    @Test
    void linesModeSaysEverythingInWords() {
        assertEquals("[   0.9 s] active, pass 1: 24.0 / 96.0 MiB sent, first pass 50%, 312.5 MB/s, dirty 1.0 MiB/s, "
                + "expected downtime 120 ms", MigrationProgress.line(active(PAGES / 2, 24L << 20, 0, 0), 900));
        assertEquals("[  12.3 s] active, pass 3: 150.0 / 96.0 MiB sent, first pass 100%, 312.5 MB/s, dirty 1.0 MiB/s, "
                + "remaining 3.0 MiB, expected downtime 120 ms, throttle 30%",
                MigrationProgress.line(active(PAGES * 2, 150L << 20, 2, 30), 12_300));
        assertEquals("[   0.0 s] setup", MigrationProgress.line(MigrationFigures.of(json("{\"status\": \"setup\"}")), 0));
        assertEquals("[   1.2 s] completed: 30.0 / 96.0 MiB sent, 25.0 MB/s",
                MigrationProgress.line(MigrationFigures.of(json(MigrateCommandTest.COMPLETED)), 1234));
    }

    @Test
    void theFinalStatistics() {
        assertEquals("""
                Migration completed.
                  total time    1.23 s
                  downtime      45 ms
                  setup time    12 ms
                  transferred   30.0 MiB (RAM 96.0 MiB)
                  throughput    25.0 MB/s
                  passes        3
                  zero pages    18401
                  normal pages  7410 (28.9 MiB)
                """, MigrationProgress.summary(MigrationFigures.of(json(MigrateCommandTest.COMPLETED))));
    }

    @Test
    void theBarIsRedrawnInPlaceAndLinesComeOncePerSecond() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        ProgressDisplay bar = new ProgressDisplay(out, MigrateOptions.Progress.BAR, 120);
        bar.update(active(PAGES / 2, 24L << 20, 0, 0), 0, 0);
        bar.update(MigrationFigures.of(json("{\"status\": \"failed\"}")), 0, 0);
        bar.endLine();
        String s = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(s.startsWith("\rpass 1 [##########"), s);
        assertTrue(s.contains("\rfailed" + " ".repeat(s.indexOf("\rfailed") - 1 - "failed".length()) + "\n"),
                "the shorter line blanks the rest of the longer one: " + s.replace("\r", "\\r"));
        bar.endLine();
        assertEquals(s, bytes.toString(StandardCharsets.UTF_8), "one newline only");

        bytes.reset();
        ProgressDisplay lines = new ProgressDisplay(out, MigrateOptions.Progress.LINES, 80);
        long second = ProgressDisplay.LINE_INTERVAL_NANOS;
        lines.update(active(0, 0, 0, 0), 0, 1);
        lines.update(active(10, 1 << 20, 0, 0), 150, second / 2);
        lines.update(active(20, 2 << 20, 0, 0), 1000, second + 1);
        lines.update(MigrationFigures.of(json(MigrateCommandTest.COMPLETED)), 1100, second + 2);
        lines.endLine();
        String[] printed = bytes.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(3, printed.length, String.join("\n", printed));
        assertTrue(printed[2].contains("completed"), "a new status is printed at once");

        bytes.reset();
        new ProgressDisplay(out, MigrateOptions.Progress.NONE, 80).update(active(0, 0, 0, 0), 0, 0);
        assertEquals("", bytes.toString(StandardCharsets.UTF_8));
    }
}
