package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/** closefd: closes a descriptor named with getfd on this connection. */
public final class Closefd implements QmpCommand {

    @Override
    public String name() {
        return "closefd";
    }

    @Override
    public List<QmpArgument> arguments() {
        return List.of(QmpArgument.required("fdname", QmpType.STR));
    }

    @Override
    public boolean onConnectionThread() {
        return true;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        call.fds().close(arguments.get("fdname").textValue());
        return QmpMessages.object();
    }
}
