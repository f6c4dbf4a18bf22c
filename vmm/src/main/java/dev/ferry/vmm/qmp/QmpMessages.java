package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.StreamReadFeature;

/**
 * Builds QMP's wire objects with QEMU's member order: a success is {@code {"return", "id"}}, an
 * error {@code {"id", "error": {"class", "desc"}}}, an event {@code {"timestamp", "event",
 * "data"}} with data omitted when empty (QEMU 7.2 as recorded in
 * src/test/resources/qmp/qemu-exchanges.json).
 */
public final class QmpMessages {

    /**
     * The mapper for monitor input: QEMU's parser accepts single-quoted strings and refuses
     * duplicate keys; numbers keep their exact value so that an id is echoed as sent.
     */
    public static final ObjectMapper MAPPER = JsonMapper.builder(JsonFactory.builder()
                    // The framer already enforces QEMU's nesting limit (1024); Jackson's default is 1000.
                    .streamReadConstraints(StreamReadConstraints.builder()
                            .maxNestingDepth(QmpJsonFramer.MAX_NESTING + 1).build())
                    .build())
            .enable(JsonReadFeature.ALLOW_SINGLE_QUOTES)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .nodeFactory(JsonNodeFactory.withExactBigDecimals(true))
            .build();

    private static final JsonNodeFactory NODES = MAPPER.getNodeFactory();

    private QmpMessages() {}

    public static ObjectNode success(JsonNode result, JsonNode id) {
        ObjectNode o = NODES.objectNode();
        o.set("return", result == null ? NODES.objectNode() : result);
        if (id != null) {
            o.set("id", id);
        }
        return o;
    }

    public static ObjectNode error(QmpErrorClass errorClass, String description, JsonNode id) {
        ObjectNode o = NODES.objectNode();
        if (id != null) {
            o.set("id", id);
        }
        ObjectNode e = o.putObject("error");
        e.put("class", errorClass.name());
        e.put("desc", description);
        return o;
    }

    /** An event; {@code data} null or empty is left out, as QEMU does. */
    public static ObjectNode event(String name, ObjectNode data, long epochMicros) {
        ObjectNode o = NODES.objectNode();
        ObjectNode ts = o.putObject("timestamp");
        ts.put("seconds", epochMicros / 1_000_000);
        ts.put("microseconds", epochMicros % 1_000_000);
        o.put("event", name);
        if (data != null && !data.isEmpty()) {
            o.set("data", data);
        }
        return o;
    }

    public static ObjectNode object() {
        return NODES.objectNode();
    }

    public static ArrayNode array() {
        return NODES.arrayNode();
    }
}
