package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;

/**
 * quit: SHUTDOWN (guest false, reason host-qmp-quit), the reply, then the VMM exits; the server
 * flushes replies before the process ends.
 */
public final class Quit implements QmpCommand {

    @Override
    public String name() {
        return "quit";
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        call.machine().quitOnControlThread("host-qmp-quit");
        return QmpMessages.object();
    }
}
