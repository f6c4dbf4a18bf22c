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

/** add-fd: puts the descriptor passed with SCM_RIGHTS into a descriptor set. */
public final class AddFd implements QmpCommand {

    @Override
    public String name() {
        return "add-fd";
    }

    @Override
    public List<QmpArgument> arguments() {
        return List.of(QmpArgument.optional("fdset-id", QmpType.INT), QmpArgument.optional("opaque", QmpType.STR));
    }

    @Override
    public QmpType returns() {
        return new QmpType.Struct("AddfdInfo", List.of(QmpArgument.required("fdset-id", QmpType.INT),
                QmpArgument.required("fd", QmpType.INT)));
    }

    @Override
    public boolean onConnectionThread() {
        return true;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        Long id = arguments.has("fdset-id") ? arguments.get("fdset-id").asLong() : null;
        call.fds().requireReceived();
        if (id != null && id < 0) {
            throw new QmpException("Parameter 'fdset-id' expects a non-negative value");
        }
        int fd = call.fds().takeReceived();
        long set = call.fdSets().add(id, fd);
        return QmpMessages.object().put("fdset-id", set).put("fd", fd);
    }
}
