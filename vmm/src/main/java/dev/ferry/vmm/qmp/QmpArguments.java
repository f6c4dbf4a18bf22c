package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.math.BigInteger;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Checks arguments against a command's declaration with the messages of QEMU's QObject input
 * visitor (qapi/qobject-input-visitor.c): "Parameter 'x' is unexpected", "Parameter 'x' is
 * missing", "Invalid parameter type for 'x', expected: string".
 */
public final class QmpArguments {
    private QmpArguments() {}

    public static void validate(List<QmpArgument> declared, ObjectNode given) {
        checkStruct("", declared, given);
    }

    private static void checkStruct(String prefix, List<QmpArgument> declared, ObjectNode given) {
        for (QmpArgument a : declared) {
            JsonNode v = given.get(a.name());
            if (v == null) {
                if (!a.optional()) {
                    throw new QmpException("Parameter '" + prefix + a.name() + "' is missing");
                }
                continue;
            }
            check(prefix + a.name(), a.name(), a.type(), v);
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = given.fields(); it.hasNext(); ) {
            String name = it.next().getKey();
            if (declared.stream().noneMatch(a -> a.name().equals(name))) {
                throw new QmpException("Parameter '" + prefix + name + "' is unexpected");
            }
        }
    }

    /**
     * {@code path} is the member's full name as QEMU's visitor prints it ("capabilities[0].state"),
     * {@code leaf} its own name, which QEMU's enum errors use ("Parameter 'capability' ...").
     */
    private static void check(String path, String leaf, QmpType type, JsonNode v) {
        if (type == QmpType.UINT64 || type == QmpType.UINT8) {
            checkUnsigned(path, type, v);
            return;
        }
        boolean ok;
        if (type instanceof QmpType.Builtin b) {
            ok = switch (b.schemaName()) {
                case "str" -> v.isTextual();
                case "int" -> v.isIntegralNumber() && v.canConvertToLong();
                case "bool" -> v.isBoolean();
                case "number" -> v.isNumber();
                case "null" -> v.isNull();
                default -> true;
            };
        } else if (type instanceof QmpType.ArrayOf) {
            ok = v.isArray();
        } else if (type instanceof QmpType.Enum) {
            ok = v.isTextual();
        } else {
            ok = v.isObject();
        }
        if (!ok) {
            throw new QmpException("Invalid parameter type for '" + path + "', expected: " + type.expectedName());
        }
        if (type instanceof QmpType.Enum e && !e.values().contains(v.textValue())) {
            throw new QmpException("Parameter '" + leaf + "' does not accept value '" + v.textValue() + "'");
        }
        if (type instanceof QmpType.ArrayOf arr) {
            int i = 0;
            for (JsonNode element : v) {
                // A list element has no name of its own: QEMU's enum error says 'null'.
                check(path + "[" + i++ + "]", "null", arr.element(), element);
            }
        }
        if (type instanceof QmpType.Struct s) {
            checkStruct(path + ".", s.members(), (ObjectNode) v);
        }
    }

    private static final BigInteger TWO_TO_64 = BigInteger.ONE.shiftLeft(64);

    /**
     * QEMU's unsigned integers: any JSON integer that fits 64 bits, a negative one taken modulo
     * 2^64 ("for backward compatibility", qobject_input_type_uint64), so -1 reaches the command's
     * own range check as 2^64-1; otherwise "Parameter 'x' expects uint64". uint8 members then
     * refuse what exceeds 255: "Parameter 'x' expects uint8_t" (visit_type_uint8).
     */
    private static void checkUnsigned(String path, QmpType type, JsonNode v) {
        BigInteger n = v.isIntegralNumber() ? v.bigIntegerValue() : null;
        if (n != null && n.signum() < 0 && n.bitLength() < 64) {
            n = n.add(TWO_TO_64);
        }
        if (n == null || n.signum() < 0 || n.bitLength() > 64) {
            throw new QmpException("Parameter '" + path + "' expects uint64");
        }
        if (type == QmpType.UINT8 && n.compareTo(BigInteger.valueOf(255)) > 0) {
            throw new QmpException("Parameter '" + path + "' expects uint8_t");
        }
    }
}
