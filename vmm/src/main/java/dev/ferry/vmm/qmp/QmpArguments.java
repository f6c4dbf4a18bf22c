package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

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
            check(prefix + a.name(), a.type(), v);
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = given.fields(); it.hasNext(); ) {
            String name = it.next().getKey();
            if (declared.stream().noneMatch(a -> a.name().equals(name))) {
                throw new QmpException("Parameter '" + prefix + name + "' is unexpected");
            }
        }
    }

    private static void check(String path, QmpType type, JsonNode v) {
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
            throw new QmpException("Parameter '" + path + "' does not accept value '" + v.textValue() + "'");
        }
        if (type instanceof QmpType.ArrayOf arr) {
            for (JsonNode element : v) {
                check(path, arr.element(), element);
            }
        }
        if (type instanceof QmpType.Struct s) {
            checkStruct(path + ".", s.members(), (ObjectNode) v);
        }
    }
}
