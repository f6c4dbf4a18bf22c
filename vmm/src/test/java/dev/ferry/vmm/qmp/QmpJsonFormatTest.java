package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

class QmpJsonFormatTest {

    private static String line(ObjectNode n) {
        return new String(QmpJsonFormat.line(n), StandardCharsets.US_ASCII);
    }

    @Test
    void successAndErrorLookExactlyLikeQemus() throws Exception {
        ObjectNode status = QmpMessages.object().put("status", "running").put("singlestep", false)
                .put("running", true);
        assertEquals("{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": \"a\"}\r\n",
                line(QmpMessages.success(status, QmpMessages.MAPPER.readTree("\"a\""))));
        assertEquals("{\"return\": {}}\r\n", line(QmpMessages.success(null, null)));
        assertEquals("{\"id\": [1, 2], \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command x has not been found\"}}\r\n",
                line(QmpMessages.error(QmpErrorClass.CommandNotFound, "The command x has not been found",
                        QmpMessages.MAPPER.readTree("[1,2]"))));
    }

    @Test
    void nonAsciiIsEscapedWithUpperCaseHex() {
        assertEquals("{\"return\": \"caf\\u00E9 \\uD83D\\uDE00\"}\r\n",
                line(QmpMessages.success(QmpMessages.MAPPER.getNodeFactory().textNode("café 😀"), null)));
    }

    @Test
    void eventsOmitEmptyData() {
        assertEquals("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 5}, \"event\": \"STOP\"}\r\n",
                line(QmpMessages.event("STOP", QmpMessages.object(), 1_000_005)));
        assertEquals("{\"timestamp\": {\"seconds\": 2, \"microseconds\": 0}, \"event\": \"SHUTDOWN\", "
                        + "\"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}\r\n",
                line(QmpMessages.event("SHUTDOWN", QmpMessages.object().put("guest", true)
                        .put("reason", "guest-shutdown"), 2_000_000)));
    }
}
