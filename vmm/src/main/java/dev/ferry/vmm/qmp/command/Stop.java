package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;

/** stop: pauses the vCPUs; STOP is emitted only if the machine was running (as in QEMU). */
public final class Stop implements QmpCommand {

    @Override
    public String name() {
        return "stop";
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        call.machine().pauseOnControlThread();
        return QmpMessages.object();
    }
}
