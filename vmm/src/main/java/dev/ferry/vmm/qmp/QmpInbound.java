package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** A decoded monitor input: a well-formed request, or an input already answered by an error. */
public sealed interface QmpInbound {

    /**
     * {@code {"execute": command, "arguments": {...}, "id": ...}}; {@code id} is null when
     * absent (a JSON null id is a NullNode, and is echoed).
     */
    record Request(String command, ObjectNode arguments, JsonNode id, boolean outOfBand) implements QmpInbound {}

    /** Input that was not a valid request; the reply is the error to send, in order. */
    record Rejected(ObjectNode reply) implements QmpInbound {}
}
