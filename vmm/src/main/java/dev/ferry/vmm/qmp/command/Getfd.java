package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpException;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/** getfd: names the descriptor received with SCM_RIGHTS on this connection (qapi/misc.json). */
public final class Getfd implements QmpCommand {

    @Override
    public String name() {
        return "getfd";
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
        String name = arguments.get("fdname").textValue();
        // QEMU looks for the descriptor first, then at the name.
        call.fds().requireReceived();
        if (!name.isEmpty() && Character.isDigit(name.charAt(0))) {
            throw new QmpException("Parameter 'fdname' expects a name not starting with a digit");
        }
        call.fds().name(name);
        return QmpMessages.object();
    }
}
