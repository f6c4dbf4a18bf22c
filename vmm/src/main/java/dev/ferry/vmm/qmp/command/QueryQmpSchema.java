package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpEvents;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * query-qmp-schema: SchemaInfo entries (qapi/introspect.json) generated from the command and
 * event declarations, so the schema is exactly what the dispatcher enforces. Unlike QEMU, type
 * names are not masked.
 */
public final class QueryQmpSchema implements QmpCommand {

    @Override
    public String name() {
        return "query-qmp-schema";
    }

    @Override
    public QmpType returns() {
        return new QmpType.ArrayOf(new QmpType.Struct("SchemaInfo", List.of()));
    }

    @Override
    public boolean onConnectionThread() {
        return true;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        Map<String, ObjectNode> types = new LinkedHashMap<>();
        ArrayNode out = QmpMessages.MAPPER.createArrayNode();
        out.add(command("qmp_capabilities", List.of(QmpArgument.optional("enable",
                new QmpType.ArrayOf(new QmpType.Enum("QMPCapability", List.of("oob"))))),
                new QmpType.Struct("q_empty", List.of()), types));
        for (QmpCommand c : call.commands().all()) {
            out.add(command(c.name(), c.arguments(), c.returns(), types));
        }
        for (Map.Entry<String, List<QmpArgument>> e : QmpEvents.DECLARED.entrySet()) {
            ObjectNode ev = QmpMessages.object().put("name", e.getKey()).put("meta-type", "event");
            ev.put("arg-type", describe(new QmpType.Struct(e.getKey() + "-arg", e.getValue()), types));
            out.add(ev);
        }
        types.values().forEach(out::add);
        return out;
    }

    private static ObjectNode command(String name, List<QmpArgument> args, QmpType ret, Map<String, ObjectNode> types) {
        ObjectNode c = QmpMessages.object().put("name", name).put("meta-type", "command");
        c.put("arg-type", describe(new QmpType.Struct(name + "-arg", args), types));
        c.put("ret-type", describe(ret, types));
        return c;
    }

    /** Adds {@code t} (and what it refers to) to {@code types}; returns its schema name. */
    private static String describe(QmpType t, Map<String, ObjectNode> types) {
        String name = t.schemaName();
        if (types.containsKey(name)) {
            return name;
        }
        ObjectNode info = QmpMessages.object().put("name", name);
        types.put(name, info);
        if (t instanceof QmpType.Builtin b) {
            info.put("meta-type", "builtin").put("json-type", b.jsonType());
        } else if (t instanceof QmpType.ArrayOf a) {
            info.put("meta-type", "array").put("element-type", describe(a.element(), types));
        } else if (t instanceof QmpType.Enum e) {
            info.put("meta-type", "enum");
            ArrayNode members = info.putArray("members");
            ArrayNode values = info.putArray("values");
            for (String v : e.values()) {
                members.addObject().put("name", v);
                values.add(v);
            }
        } else if (t instanceof QmpType.Struct s) {
            info.put("meta-type", "object");
            ArrayNode members = info.putArray("members");
            for (QmpArgument m : s.members()) {
                ObjectNode member = members.addObject().put("name", m.name()).put("type", describe(m.type(), types));
                if (m.optional()) {
                    member.putNull("default");
                }
            }
        }
        return name;
    }
}
