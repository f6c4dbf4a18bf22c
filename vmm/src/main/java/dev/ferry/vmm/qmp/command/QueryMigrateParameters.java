package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.machine.migration.MigrationSettings;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

/** query-migrate-parameters: the values migrate-set-parameters sets (and their defaults). */
public final class QueryMigrateParameters implements QmpCommand {

    @Override
    public String name() {
        return "query-migrate-parameters";
    }

    @Override
    public QmpType returns() {
        return new QmpType.Struct("MigrationParameters", MigrateSetParameters.PARAMETERS);
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        MigrationSettings s = call.requireMigration().settings();
        return QmpMessages.object()
                .put("cpu-throttle-initial", s.throttleInitial())
                .put("cpu-throttle-increment", s.throttleIncrement())
                .put("tls-creds", s.tlsCreds())
                .put("tls-hostname", s.tlsHostname())
                .put("max-bandwidth", s.maxBandwidth())
                .put("downtime-limit", s.downtimeLimitMillis())
                .put("multifd-channels", s.multifdChannels())
                .put("max-cpu-throttle", s.maxCpuThrottle());
    }
}
