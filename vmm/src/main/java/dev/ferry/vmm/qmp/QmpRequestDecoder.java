package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageDecoder;

import java.io.CharConversionException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Turns a framed JSON text into a request, checking its members as QEMU's qmp_dispatch does
 * (qapi/qmp-dispatch.c, qmp_dispatch_check_obj) and with QEMU's messages. Errors about the JSON
 * itself carry no id (the id could not be read); errors about members echo the id.
 */
public final class QmpRequestDecoder extends MessageToMessageDecoder<JsonInput> {

    @Override
    protected void decode(ChannelHandlerContext ctx, JsonInput input, List<Object> out) {
        out.add(decode(input));
    }

    static QmpInbound decode(JsonInput input) {
        if (input instanceof JsonInput.Error e) {
            return new QmpInbound.Rejected(QmpMessages.error(QmpErrorClass.GenericError, e.description(), null));
        }
        byte[] text = ((JsonInput.Text) input).utf8();
        if (!isStrictUtf8(text)) {
            return new QmpInbound.Rejected(QmpMessages.error(QmpErrorClass.GenericError,
                    "JSON parse error, invalid UTF-8 sequence in string", null));
        }
        JsonNode node;
        try {
            node = QmpMessages.MAPPER.readTree(text);
        } catch (IOException e) {
            return new QmpInbound.Rejected(QmpMessages.error(QmpErrorClass.GenericError, parseError(e), null));
        }
        if (node == null || !node.isObject()) {
            return reject("QMP input must be a JSON object", null);
        }
        JsonNode id = node.get("id");
        String execute = null;
        boolean oob = false;
        ObjectNode arguments = QmpMessages.object();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> m = it.next();
            String key = m.getKey();
            JsonNode v = m.getValue();
            switch (key) {
                case "execute", "exec-oob" -> {
                    if (!v.isTextual()) {
                        return reject("QMP input member '" + key + "' must be a string", id);
                    }
                    if (execute != null) {
                        return reject("QMP input must not contain both 'execute' and 'exec-oob'", id);
                    }
                    execute = v.textValue();
                    oob = key.equals("exec-oob");
                }
                case "arguments" -> {
                    if (!v.isObject()) {
                        return reject("QMP input member 'arguments' must be an object", id);
                    }
                    arguments = (ObjectNode) v;
                }
                case "id" -> { }
                default -> {
                    return reject("QMP input member '" + key + "' is unexpected", id);
                }
            }
        }
        if (execute == null) {
            return reject("QMP input lacks member 'execute'", id);
        }
        return new QmpInbound.Request(execute, arguments, id, oob);
    }

    /**
     * RFC 3629 UTF-8: the JDK's decoder refuses overlong forms, encoded surrogates and values
     * above U+10FFFF, as QEMU's lexer does; Jackson alone lets some of them through.
     */
    static boolean isStrictUtf8(byte[] text) {
        for (byte b : text) {
            if (b < 0) {
                try {
                    StandardCharsets.UTF_8.newDecoder()
                            .onMalformedInput(CodingErrorAction.REPORT)
                            .onUnmappableCharacter(CodingErrorAction.REPORT)
                            .decode(ByteBuffer.wrap(text));
                    return true;
                } catch (CharacterCodingException e) {
                    return false;
                }
            }
        }
        return true;    // all ASCII
    }

    private static QmpInbound reject(String description, JsonNode id) {
        return new QmpInbound.Rejected(QmpMessages.error(QmpErrorClass.GenericError, description, id));
    }

    /** QEMU's wording where the cause is clear, Jackson's first line otherwise. */
    private static String parseError(IOException e) {
        String m = e.getMessage() == null ? "" : e.getMessage();
        if (e instanceof CharConversionException || m.contains("Invalid UTF-8")) {
            return "JSON parse error, invalid UTF-8 sequence in string";
        }
        if (m.startsWith("Duplicate field")) {
            return "JSON parse error, duplicate key";
        }
        if (m.startsWith("Unrecognized token")) {
            int a = m.indexOf('\'');
            int b = a < 0 ? -1 : m.indexOf('\'', a + 1);
            return b > a ? "JSON parse error, invalid keyword '" + m.substring(a + 1, b) + "'"
                    : "JSON parse error, invalid keyword";
        }
        if (m.contains("was expecting a colon")) {
            return "JSON parse error, missing : in object pair";
        }
        if (e instanceof JsonParseException || e instanceof StreamReadException) {
            return "JSON parse error, expecting value";
        }
        String first = m.lines().findFirst().orElse("malformed input");
        return "JSON parse error, " + first;
    }
}
