package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;

/**
 * migrate_cancel: stops an outgoing migration; the source guest resumes if the migration had
 * stopped it. Returns at once (status goes cancelling, then cancelled). No effect otherwise.
 */
public final class MigrateCancel implements QmpCommand {

    @Override
    public String name() {
        return "migrate_cancel";
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        call.migration().cancel();
        return QmpMessages.object();
    }
}
