package dev.ferry.migration.config;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.ferry.migration.state.StateException;

import java.io.IOException;

/** The CONFIG record's JSON: {"ram_bytes", "vcpus", "confidential_mode", "firmware_sha256"}. */
public final class MachineIdentityCodec {

    private static final ObjectMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

    private MachineIdentityCodec() {}

    public static byte[] encode(MachineIdentity id) {
        try {
            return JSON.writeValueAsBytes(JSON.createObjectNode()
                    .put("ram_bytes", id.ramBytes())
                    .put("vcpus", id.vcpus())
                    .put("confidential_mode", id.confidentialMode())
                    .put("firmware_sha256", id.firmwareSha256()));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static MachineIdentity decode(byte[] payload) throws StateException {
        JsonNode n;
        try {
            n = JSON.readTree(payload);
        } catch (IOException e) {
            throw new StateException("CONFIG record is not valid JSON");
        }
        if (n == null || !n.isObject()) {
            throw new StateException("CONFIG record is not a JSON object");
        }
        JsonNode ram = n.get("ram_bytes");
        JsonNode vcpus = n.get("vcpus");
        JsonNode mode = n.get("confidential_mode");
        JsonNode fw = n.get("firmware_sha256");
        if (ram == null || !ram.isIntegralNumber() || ram.asLong() <= 0) {
            throw new StateException("CONFIG record: 'ram_bytes' must be a positive integer");
        }
        if (vcpus == null || !vcpus.isIntegralNumber() || !vcpus.canConvertToInt() || vcpus.asInt() <= 0) {
            throw new StateException("CONFIG record: 'vcpus' must be a positive integer");
        }
        if (mode == null || !mode.isTextual() || fw == null || !fw.isTextual()) {
            throw new StateException("CONFIG record: 'confidential_mode' and 'firmware_sha256' must be strings");
        }
        return new MachineIdentity(ram.asLong(), vcpus.asInt(), mode.asText(), fw.asText());
    }
}
