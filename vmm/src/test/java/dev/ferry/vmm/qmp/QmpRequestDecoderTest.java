package dev.ferry.vmm.qmp;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QmpRequestDecoderTest {

    private static QmpInbound decode(String s) {
        return QmpRequestDecoder.decode(new JsonInput.Text(s.getBytes(StandardCharsets.UTF_8)));
    }

    private static QmpInbound decodeBytes(byte[] b) {
        return QmpRequestDecoder.decode(new JsonInput.Text(b));
    }

    private static String rejected(QmpInbound in) {
        return ((QmpInbound.Rejected) in).reply().toString();
    }

    @Test
    void wellFormedRequestKeepsItsIdExactly() {
        QmpInbound.Request r = (QmpInbound.Request) decode(
                "{\"execute\": \"query-status\", \"arguments\": {}, \"id\": 3.14}");
        assertEquals("query-status", r.command());
        assertEquals("3.14", r.id().toString());
        assertFalse(r.outOfBand());
        QmpInbound.Request o = (QmpInbound.Request) decode("{'execute': 'x', 'id': {'b': [1, null]}}");
        assertEquals("{\"b\":[1,null]}", o.id().toString());
    }

    @Test
    void qemusMemberErrorsEchoTheId() {
        assertEquals("{\"id\":1,\"error\":{\"class\":\"GenericError\",\"desc\":\"QMP input lacks member 'execute'\"}}",
                rejected(decode("{\"id\": 1}")));
        assertTrue(rejected(decode("{\"execute\": 1, \"id\": \"a\"}"))
                .contains("QMP input member 'execute' must be a string"));
        assertTrue(rejected(decode("{\"execute\": \"x\", \"extra\": 1}"))
                .contains("QMP input member 'extra' is unexpected"));
        assertTrue(rejected(decode("{\"execute\": \"x\", \"arguments\": []}"))
                .contains("QMP input member 'arguments' must be an object"));
        assertTrue(rejected(decode("[1, 2]")).contains("QMP input must be a JSON object"));
        assertTrue(rejected(decode("42")).contains("QMP input must be a JSON object"));
    }

    @Test
    void jsonErrorsCarryNoId() {
        String bad = rejected(decode("{\"execute\": bogus, \"id\": 1}"));
        assertEquals("{\"error\":{\"class\":\"GenericError\",\"desc\":\"JSON parse error, invalid keyword 'bogus'\"}}", bad);
        assertTrue(rejected(decode("{\"a\": 1, \"a\": 2}")).contains("duplicate key"));
        assertTrue(rejected(decode("{\"a\" 1}")).contains("JSON parse error"));
        byte[] invalidUtf8 = "{\"execute\": \"x\u0000\"}".getBytes(StandardCharsets.UTF_8);
        invalidUtf8[13] = (byte) 0xC3;
        invalidUtf8[14] = (byte) 0x28;
        String s = rejected(decodeBytes(invalidUtf8));
        assertTrue(s.contains("invalid UTF-8"), s);
        assertInstanceOf(QmpInbound.Rejected.class, QmpRequestDecoder.decode(new JsonInput.Error("x")));
    }
}
