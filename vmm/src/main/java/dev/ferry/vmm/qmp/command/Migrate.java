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
 * migrate (qapi/migration.json): starts an outgoing migration and returns at once; progress is
 * in query-migrate and the MIGRATION events. {@code detach} is accepted and means nothing (QMP
 * migrations always run detached). Block migration and postcopy recovery are not offered.
 */
public final class Migrate implements QmpCommand {

    @Override
    public String name() {
        return "migrate";
    }

    @Override
    public List<QmpArgument> arguments() {
        return List.of(QmpArgument.required("uri", QmpType.STR), QmpArgument.optional("blk", QmpType.BOOL),
                QmpArgument.optional("inc", QmpType.BOOL), QmpArgument.optional("detach", QmpType.BOOL),
                QmpArgument.optional("resume", QmpType.BOOL));
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        if (flag(arguments, "blk") || flag(arguments, "inc")) {
            throw new QmpException("Block migration is not supported by Ferry (it has no block devices)");
        }
        if (flag(arguments, "resume")) {
            throw new QmpException("Postcopy recovery is not supported by Ferry");
        }
        var migration = call.migration();
        MigrationUri uri;
        int fd;
        try {
            migration.checkCanMigrate();
            try {
                uri = MigrationUris.parse(arguments.get("uri").textValue());
            } catch (QmpException e) {
                // QEMU's words; query-migrate keeps the parser's more precise reason.
                migration.failedAtStart(e.getMessage());
                throw new QmpException("Parameter 'uri' expects a valid migration protocol");
            }
            try {
                fd = MigrationUris.takeFd(call, uri);
            } catch (QmpException e) {
                migration.failedAtStart(e.getMessage());
                throw e;
            }
        } catch (MigrationRequestException e) {
            throw new QmpException(e.getMessage());
        }
        try {
            migration.migrate(uri, fd);
        } catch (MigrationRequestException e) {
            MigrationUris.closeFd(fd);
            throw new QmpException(e.getMessage());
        }
        return QmpMessages.object();
    }

    static boolean flag(ObjectNode a, String name) {
        JsonNode v = a.get(name);
        return v != null && v.booleanValue();
    }
}
