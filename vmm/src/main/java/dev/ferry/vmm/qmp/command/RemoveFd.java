package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/** remove-fd: closes a descriptor of a set, or the whole set. */
public final class RemoveFd implements QmpCommand {

    @Override
    public String name() {
        return "remove-fd";
    }

    @Override
    public List<QmpArgument> arguments() {
        return List.of(QmpArgument.required("fdset-id", QmpType.INT), QmpArgument.optional("fd", QmpType.INT));
    }

    @Override
    public boolean onConnectionThread() {
        return true;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        Integer fd = arguments.has("fd") ? arguments.get("fd").asInt() : null;
        call.fdSets().remove(arguments.get("fdset-id").asLong(), fd);
        return QmpMessages.object();
    }
}
