package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.machine.migration.MigrationRequestException;
import dev.ferry.vmm.machine.migration.MigrationStatus;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpException;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpMigrationEvents;

import java.util.List;

/** migrate-continue: lets a migration paused by pause-before-switchover go on. */
public final class MigrateContinue implements QmpCommand {

    @Override
    public String name() {
        return "migrate-continue";
    }

    @Override
    public List<QmpArgument> arguments() {
        return List.of(QmpArgument.required("state", QmpMigrationEvents.STATUS));
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        String state = arguments.get("state").textValue();
        MigrationStatus expected = MigrationStatus.ofQapiName(state);    // validated against the enum
        try {
            call.migration().continueFrom(expected);
        } catch (MigrationRequestException e) {
            throw new QmpException(e.getMessage());
        }
        return QmpMessages.object();
    }
}
