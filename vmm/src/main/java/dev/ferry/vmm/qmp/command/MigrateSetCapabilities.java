package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.machine.migration.MigrationRequestException;
import dev.ferry.vmm.machine.migration.MigrationSettings;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpException;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * migrate-set-capabilities: every QEMU 7.2 capability name is known; switching on one Ferry
 * does not implement (xbzrle, compress, postcopy-ram, ...) is an error rather than silently
 * ignored, so management does not believe it is in effect.
 */
public final class MigrateSetCapabilities implements QmpCommand {

    static final QmpType.Enum CAPABILITY = new QmpType.Enum("MigrationCapability", MigrationSettings.ALL_CAPABILITIES);
    static final QmpType.Struct STATUS = new QmpType.Struct("MigrationCapabilityStatus",
            List.of(QmpArgument.required("capability", CAPABILITY), QmpArgument.required("state", QmpType.BOOL)));

    @Override
    public String name() {
        return "migrate-set-capabilities";
    }

    @Override
    public List<QmpArgument> arguments() {
        return List.of(QmpArgument.required("capabilities", new QmpType.ArrayOf(STATUS)));
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        var migration = call.migration();
        Set<String> caps = new HashSet<>(migration.settings().capabilities());
        for (JsonNode c : arguments.get("capabilities")) {
            String name = c.get("capability").textValue();
            if (c.get("state").booleanValue()) {
                if (!MigrationSettings.SUPPORTED.contains(name)) {
                    throw new QmpException("Migration capability '" + name + "' is not supported by Ferry");
                }
                caps.add(name);
            } else {
                caps.remove(name);
            }
        }
        try {
            migration.setCapabilities(caps);
        } catch (MigrationRequestException e) {
            throw new QmpException(e.getMessage());
        }
        return QmpMessages.object();
    }
}
