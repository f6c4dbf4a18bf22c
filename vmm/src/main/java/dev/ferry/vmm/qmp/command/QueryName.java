package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/** query-name: {"name": ...} when -name was given, {} otherwise. */
public final class QueryName implements QmpCommand {

    @Override
    public String name() {
        return "query-name";
    }

    @Override
    public QmpType returns() {
        return new QmpType.Struct("NameInfo", List.of(QmpArgument.optional("name", QmpType.STR)));
    }

    @Override
    public boolean onConnectionThread() {
        return true;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        ObjectNode o = QmpMessages.object();
        String name = call.machine().config().name();
        if (name != null) {
            o.put("name", name);
        }
        return o;
    }
}
