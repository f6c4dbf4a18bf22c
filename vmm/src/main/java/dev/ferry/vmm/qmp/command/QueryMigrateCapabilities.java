package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.machine.migration.MigrationSettings;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

/** query-migrate-capabilities: every capability with its state, in QEMU's order. */
public final class QueryMigrateCapabilities implements QmpCommand {

    @Override
    public String name() {
        return "query-migrate-capabilities";
    }

    @Override
    public QmpType returns() {
        return new QmpType.ArrayOf(MigrateSetCapabilities.STATUS);
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        MigrationSettings s = call.migration().settings();
        ArrayNode out = QmpMessages.array();
        for (String c : MigrationSettings.ALL_CAPABILITIES) {
            out.addObject().put("state", s.has(c)).put("capability", c);
        }
        return out;
    }
}
