package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/** query-kvm: Ferry always runs on KVM, so both are true while a machine exists. */
public final class QueryKvm implements QmpCommand {

    @Override
    public String name() {
        return "query-kvm";
    }

    @Override
    public QmpType returns() {
        return new QmpType.Struct("KvmInfo", List.of(QmpArgument.required("enabled", QmpType.BOOL),
                QmpArgument.required("present", QmpType.BOOL)));
    }

    @Override
    public boolean onConnectionThread() {
        return true;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        return QmpMessages.object().put("enabled", true).put("present", true);
    }
}
