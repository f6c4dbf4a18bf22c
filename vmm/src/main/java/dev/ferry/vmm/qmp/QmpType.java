package dev.ferry.vmm.qmp;

import java.util.List;

/**
 * The QAPI types Ferry's commands use, enough to validate arguments as QEMU's generated
 * visitors do and to describe them in query-qmp-schema (qapi/introspect.json, SchemaInfo).
 */
public sealed interface QmpType {

    /** The name under which the schema lists this type. */
    String schemaName();

    /** A QAPI built-in: str, int, bool, number, any, null. */
    record Builtin(String schemaName, String jsonType) implements QmpType {}

    record ArrayOf(QmpType element) implements QmpType {
        @Override
        public String schemaName() {
            return "[" + element.schemaName() + "]";
        }
    }

    record Enum(String schemaName, List<String> values) implements QmpType {}

    /** A struct; also the implicit argument type of a command. */
    record Struct(String schemaName, List<QmpArgument> members) implements QmpType {}

    Builtin STR = new Builtin("str", "string");
    Builtin INT = new Builtin("int", "int");
    Builtin BOOL = new Builtin("bool", "boolean");
    Builtin NUMBER = new Builtin("number", "number");
    /**
     * Unsigned integers, told apart from INT by identity: QmpArguments checks them as QEMU's
     * visitor does; the schema lists them as "int", as QEMU's introspection does every integer.
     */
    Builtin UINT64 = new Builtin("int", "int");
    Builtin UINT8 = new Builtin("int", "int");
    Builtin ANY = new Builtin("any", "value");
    Builtin NULL = new Builtin("null", "null");

    /** The name QEMU's type errors use ("expected: string"). */
    default String expectedName() {
        if (this instanceof Builtin b) {
            return switch (b.schemaName()) {
                case "str" -> "string";
                case "bool" -> "boolean";
                case "int" -> "integer";
                default -> b.schemaName();
            };
        }
        if (this instanceof ArrayOf) {
            return "array";
        }
        if (this instanceof Enum) {
            return "string";
        }
        return "object";
    }
}
