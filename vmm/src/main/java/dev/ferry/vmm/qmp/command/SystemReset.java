package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;

/** system_reset: RESET (or SHUTDOWN with -no-reboot) with reason host-qmp-system-reset. */
public final class SystemReset implements QmpCommand {

    @Override
    public String name() {
        return "system_reset";
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        call.machine().resetOnControlThread("host-qmp-system-reset");
        return QmpMessages.object();
    }
}
