package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.migration.transport.MigrationUri;
import dev.ferry.vmm.machine.migration.MigrationRequestException;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpException;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/**
 * migrate-incoming (qapi/migration.json): with {@code -incoming defer}, says where the incoming
 * stream arrives. Unlike QEMU, which exits after a failed incoming migration, Ferry stays in
 * inmigrate and accepts another migrate-incoming.
 */
public final class MigrateIncoming implements QmpCommand {

    @Override
    public String name() {
        return "migrate-incoming";
    }

    @Override
    public List<QmpArgument> arguments() {
        return List.of(QmpArgument.required("uri", QmpType.STR));
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        var migration = call.migration();
        MigrationUri uri = MigrationUris.parse(arguments.get("uri").textValue());
        int fd = MigrationUris.takeFd(call, uri);
        try {
            migration.listen(uri, fd, false);
        } catch (MigrationRequestException e) {
            MigrationUris.closeFd(fd);
            throw new QmpException(e.getMessage());
        }
        return QmpMessages.object();
    }
}
