package dev.ferry.migration.state;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Encodes {@link StateSection}s as DEVICE record payloads and decodes them as hostile input:
 * the JSON must be an object with the expected members and types, the section must be one the
 * reader knows, and its minimum version must not be above what the reader supports. State
 * records are mapped with Jackson, tolerant of absent optional fields (they take their
 * defaults) and of unknown ones (a newer writer may have added them).
 */
public final class StateSectionCodec {

    private static final ObjectMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .build();

    private StateSectionCodec() {}

    public static byte[] encode(StateSection s) {
        ObjectNode o = JSON.createObjectNode();
        o.put("section", s.name());
        o.put("version", s.version());
        o.put("minimum_version", s.minimumVersion());
        o.set("state", s.state());
        ObjectNode subs = o.putObject("subsections");
        s.subsections().forEach(subs::set);
        try {
            return JSON.writeValueAsBytes(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode state section " + s.name(), e);
        }
    }

    /**
     * Decodes a section written by any Ferry whose minimum version this reader meets.
     *
     * @param supportedVersion the newest version of this section the reader understands
     */
    public static StateSection decode(byte[] payload, String expectedName, int supportedVersion)
            throws StateException {
        return decode(payload, name -> {
            if (!name.equals(expectedName)) {
                throw new StateException("expected state section '" + expectedName + "', got '" + name + "'");
            }
            return supportedVersion;
        });
    }

    /** How a reader knows a section: the newest version it reads, or a StateException if none. */
    @FunctionalInterface
    public interface SectionVersions {
        int supportedVersion(String sectionName) throws StateException;
    }

    /** Decodes a section whose name the payload says (device records); {@code versions} decides. */
    public static StateSection decode(byte[] payload, SectionVersions versions) throws StateException {
        JsonNode n;
        try {
            n = JSON.readTree(payload);
        } catch (IOException e) {
            throw new StateException("state section is not valid JSON: "
                    + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
        }
        if (n == null || !n.isObject()) {
            throw new StateException("state section is not a JSON object");
        }
        String name = text(n, "section");
        int supportedVersion = versions.supportedVersion(name);
        int version = integer(n, "version", name);
        int minimum = integer(n, "minimum_version", name);
        if (minimum < 1 || minimum > version) {
            throw new StateException(name + ": inconsistent versions " + minimum + ".." + version);
        }
        if (minimum > supportedVersion) {
            throw new StateException(name + ": state version " + version + " needs a reader of version "
                    + minimum + " or newer; this Ferry reads up to version " + supportedVersion);
        }
        JsonNode state = n.get("state");
        if (state == null || !state.isObject()) {
            throw new StateException(name + ": 'state' must be an object");
        }
        Map<String, JsonNode> subs = new LinkedHashMap<>();
        JsonNode s = n.get("subsections");
        if (s != null) {
            if (!s.isObject()) {
                throw new StateException(name + ": 'subsections' must be an object");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = s.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                subs.put(e.getKey(), e.getValue());
            }
        }
        return new StateSection(name, version, minimum, state, subs);
    }

    /** Maps a section's state onto a record type; absent optional fields keep their defaults. */
    public static <T> T stateAs(StateSection s, Class<T> type) throws StateException {
        try {
            return JSON.treeToValue(s.state(), type);
        } catch (JsonProcessingException | IllegalArgumentException e) {
            throw new StateException(s.name() + ": state does not fit " + type.getSimpleName() + ": "
                    + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
        }
    }

    /** Turns a state record into the JSON a section carries. */
    public static JsonNode stateOf(Object record) {
        return JSON.valueToTree(record);
    }

    private static String text(JsonNode n, String field) throws StateException {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) {
            throw new StateException("state section lacks the text member '" + field + "'");
        }
        return v.textValue();
    }

    private static int integer(JsonNode n, String field, String section) throws StateException {
        JsonNode v = n.get(field);
        if (v == null || !v.canConvertToInt() || !v.isIntegralNumber()) {
            throw new StateException(section + ": '" + field + "' must be an integer");
        }
        return v.intValue();
    }
}
