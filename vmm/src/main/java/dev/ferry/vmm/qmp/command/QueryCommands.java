package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/** query-commands: every command this monitor accepts, qmp_capabilities included. */
public final class QueryCommands implements QmpCommand {

    @Override
    public String name() {
        return "query-commands";
    }

    @Override
    public QmpType returns() {
        return new QmpType.ArrayOf(new QmpType.Struct("CommandInfo", List.of()));
    }

    @Override
    public boolean onConnectionThread() {
        return true;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        ArrayNode out = QmpMessages.MAPPER.createArrayNode();
        out.addObject().put("name", "qmp_capabilities");
        for (QmpCommand c : call.commands().all()) {
            out.addObject().put("name", c.name());
        }
        return out;
    }
}
