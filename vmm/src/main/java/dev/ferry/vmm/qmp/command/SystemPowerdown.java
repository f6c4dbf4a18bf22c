package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;

/** system_powerdown: presses the power button (POWERDOWN); the guest decides to power off. */
public final class SystemPowerdown implements QmpCommand {

    @Override
    public String name() {
        return "system_powerdown";
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        call.machine().powerdown();
        return QmpMessages.object();
    }
}
