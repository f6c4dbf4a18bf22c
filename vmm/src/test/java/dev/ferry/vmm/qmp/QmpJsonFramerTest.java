package dev.ferry.vmm.qmp;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class QmpJsonFramerTest {

    private final EmbeddedChannel ch = new EmbeddedChannel(new QmpJsonFramer());

    private void send(String s) {
        ch.writeInbound(Unpooled.wrappedBuffer(s.getBytes(StandardCharsets.UTF_8)));
    }

    private void sendBytes(byte... b) {
        ch.writeInbound(Unpooled.wrappedBuffer(b));
    }

    private List<String> drain() {
        List<String> out = new ArrayList<>();
        Object o;
        while ((o = ch.readInbound()) != null) {
            if (o instanceof JsonInput.Text t) {
                out.add(new String(t.utf8(), StandardCharsets.UTF_8));
            } else {
                out.add("ERROR: " + ((JsonInput.Error) o).description());
            }
        }
        return out;
    }

    @Test
    void splitsObjectsWithoutNewlinesAndAcrossWrites() {
        send("{\"execute\": \"a\"}{\"execute\"");
        send(": \"b\", \"arguments\": {\"x\": [1, {\"y\": \"}\"}]}}\r\n  {\"execute\":\"c\"}");
        assertEquals(List.of("{\"execute\": \"a\"}",
                "{\"execute\": \"b\", \"arguments\": {\"x\": [1, {\"y\": \"}\"}]}}",
                "{\"execute\":\"c\"}"), drain());
    }

    @Test
    void bracesInsideStringsAndEscapesDoNotCount() {
        send("{\"a\": \"\\\"{[\", 'b': '}\\''}");
        assertEquals(List.of("{\"a\": \"\\\"{[\", 'b': '}\\''}"), drain());
    }

    @Test
    void topLevelScalarsEndAtADelimiter() {
        send("42");
        assertEquals(List.of(), drain(), "a number needs a delimiter");
        send(" \"x\"[1,2] true\n");
        assertEquals(List.of("42", "\"x\"", "[1,2]", "true"), drain());
    }

    @Test
    void strayBytesResetAndTheStreamGoesOn() {
        send("{\"execute\": ");
        sendBytes((byte) 0xFF);
        send("{\"execute\": \"ok\"}");
        assertEquals(List.of("ERROR: JSON parse error, stray '\uFFFD'", "{\"execute\": \"ok\"}"), drain());
        sendBytes((byte) 0x01);
        assertEquals(List.of("ERROR: JSON parse error, stray '\u0001'"), drain());
    }

    @Test
    void strayClosingBracketIsExpectingValue() {
        send("]{}");
        assertEquals(List.of("ERROR: JSON parse error, expecting value", "{}"), drain());
    }

    @Test
    void nestingBeyondTheLimitIsRejectedOnce() {
        send("[".repeat(QmpJsonFramer.MAX_NESTING) + "]".repeat(QmpJsonFramer.MAX_NESTING));
        assertEquals(1, drain().size(), "depth 1024 is accepted");
        EmbeddedChannel big = new EmbeddedChannel(new QmpJsonFramer());
        big.writeInbound(Unpooled.wrappedBuffer(("[".repeat(1025) + "]").getBytes(StandardCharsets.US_ASCII)));
        JsonInput first = big.readInbound();
        assertEquals(new JsonInput.Error("JSON nesting depth limit exceeded"), first);
    }

    @Test
    void oversizedMessagesAreDroppedAndTheConnectionStaysUsable() {
        send("{\"execute\": \"" + "x".repeat(QmpJsonFramer.MAX_MESSAGE_BYTES + 1000) + "\"}");
        List<String> out = drain();
        assertEquals("ERROR: JSON token size limit exceeded", out.get(0));
        // As in QEMU, the rest of the oversized text is lexed as new input (here it opens a
        // string); 0xFF resets the lexer wherever it is.
        send("\n{\"execute\": \"lost\"}");
        sendBytes((byte) 0xFF);
        send("{\"execute\": \"after\"}");
        List<String> later = drain();
        assertEquals("{\"execute\": \"after\"}", later.get(later.size() - 1));
        assertEquals("ERROR: JSON parse error, stray '\uFFFD'", later.get(later.size() - 2));
    }

    @Test
    void nothingIsEmittedForAnIncompleteValue() {
        send("{\"execute\": \"query-status\"");
        assertNull(ch.readInbound());
    }
}
