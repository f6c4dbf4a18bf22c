package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.machine.RunState;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpException;
import dev.ferry.vmm.qmp.QmpMessages;

/**
 * cont: resumes a paused or prelaunch machine, with QEMU's rules (monitor/qmp-cmds.c, qmp_cont):
 * a machine that shut down or failed must be reset first; a running one is left alone.
 */
public final class Cont implements QmpCommand {

    @Override
    public String name() {
        return "cont";
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        RunState s = call.machine().state();
        if (s == RunState.SHUTDOWN || s == RunState.INTERNAL_ERROR || s == RunState.GUEST_PANICKED) {
            throw new QmpException("Resetting the Virtual Machine is required");
        }
        call.machine().resumeOnControlThread();
        return QmpMessages.object();
    }
}
