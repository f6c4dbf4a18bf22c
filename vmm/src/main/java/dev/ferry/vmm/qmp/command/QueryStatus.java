package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.machine.RunState;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.Arrays;
import java.util.List;

/** query-status: {"status": RunState, "singlestep": false, "running": bool} (qapi/run-state.json). */
public final class QueryStatus implements QmpCommand {

    static final QmpType.Enum RUN_STATE = new QmpType.Enum("RunState",
            Arrays.stream(RunState.values()).map(RunState::qapiName).toList());

    @Override
    public String name() {
        return "query-status";
    }

    @Override
    public QmpType returns() {
        return new QmpType.Struct("StatusInfo", List.of(QmpArgument.required("running", QmpType.BOOL),
                QmpArgument.required("singlestep", QmpType.BOOL), QmpArgument.required("status", RUN_STATE)));
    }

    /** Answered from the volatile run state, without waiting for the control thread. */
    @Override
    public boolean onConnectionThread() {
        return true;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        RunState s = call.machine().state();
        return QmpMessages.object().put("status", s.qapiName()).put("singlestep", false)
                .put("running", s == RunState.RUNNING);
    }
}
