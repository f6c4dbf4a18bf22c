package dev.ferry.vmm.qmpclient;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QmpShellTest {

    @Test
    void keyValueArgumentsBecomeJsonWhereTheyParse() {
        assertEquals("{\"command-line\":\"info status\"}",
                QmpShell.parseArguments(new String[] {"command-line=info status"}).toString());
        assertEquals("{\"fdset-id\":3,\"enable\":[\"oob\"],\"name\":\"vm\"}",
                QmpShell.parseArguments(new String[] {"fdset-id=3", "enable=[\"oob\"]", "name=vm"}).toString());
        assertEquals("{\"a\":{\"b\":1}}", QmpShell.parseArguments(new String[] {"{\"a\": {\"b\": 1}}"}).toString());
        assertThrows(IllegalArgumentException.class, () -> QmpShell.parseArguments(new String[] {"novalue"}));
    }

    @Test
    void usageAndConnectionErrorsExitWithOne() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
        assertEquals(1, QmpShell.run(new String[0], System.out, e));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("usage: ferry qmp"));
        assertEquals(1, QmpShell.run(new String[] {"/nonexistent/qmp.sock", "query-status"}, System.out, e));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("ENOENT"), err.toString(StandardCharsets.UTF_8));
    }
}
