package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/** query-memory-size-summary: base RAM in bytes; Ferry has no memory hotplug. */
public final class QueryMemorySizeSummary implements QmpCommand {

    @Override
    public String name() {
        return "query-memory-size-summary";
    }

    @Override
    public QmpType returns() {
        return new QmpType.Struct("MemoryInfo", List.of(QmpArgument.required("base-memory", QmpType.INT),
                QmpArgument.optional("plugged-memory", QmpType.INT)));
    }

    @Override
    public boolean onConnectionThread() {
        return true;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        return QmpMessages.object().put("base-memory", call.machine().config().memoryBytes())
                .put("plugged-memory", 0);
    }
}
