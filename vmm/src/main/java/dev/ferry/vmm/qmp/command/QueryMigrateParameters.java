package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.machine.migration.MigrationSettings;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.ArrayList;
import java.util.List;

/**
 * query-migrate-parameters: the values migrate-set-parameters sets (and their defaults), and
 * every other member QEMU 7.2 reports, with QEMU's defaults, for the features Ferry does not have
 * (compression, xbzrle, postcopy, announce, COLO): management software reads the whole object
 * (recorded in qemu-exchanges.json), and setting those members is refused.
 */
public final class QueryMigrateParameters implements QmpCommand {

    /** QEMU 7.2's defaults (migration/migration.c) of the members Ferry only reports. */
    private static ObjectNode qemuOnly() {
        return QmpMessages.object()
                .put("announce-initial", 50)
                .put("announce-max", 550)
                .put("announce-rounds", 5)
                .put("announce-step", 100)
                .put("compress-level", 1)
                .put("compress-threads", 8)
                .put("compress-wait-thread", true)
                .put("decompress-threads", 2)
                .put("throttle-trigger-threshold", 50)
                .put("cpu-throttle-tailslow", false)
                .put("max-postcopy-bandwidth", 0)
                .put("multifd-compression", "none")
                .put("multifd-zlib-level", 1)
                .put("multifd-zstd-level", 1)
                .put("xbzrle-cache-size", 67108864)
                .put("x-checkpoint-delay", 20000)
                .put("block-incremental", false);
    }

    @Override
    public String name() {
        return "query-migrate-parameters";
    }

    @Override
    public QmpType returns() {
        List<QmpArgument> members = new ArrayList<>(MigrateSetParameters.PARAMETERS);
        qemuOnly().fields().forEachRemaining(f -> members.add(QmpArgument.optional(f.getKey(),
                f.getValue().isTextual() ? QmpType.STR : f.getValue().isBoolean() ? QmpType.BOOL : QmpType.INT)));
        return new QmpType.Struct("MigrationParameters", members);
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        MigrationSettings s = call.migration().settings();
        return QmpMessages.object()
                .put("cpu-throttle-initial", s.throttleInitial())
                .put("cpu-throttle-increment", s.throttleIncrement())
                .put("tls-creds", s.tlsCreds())
                .put("tls-hostname", s.tlsHostname())
                .put("tls-authz", "")
                .put("max-bandwidth", s.maxBandwidth())
                .put("downtime-limit", s.downtimeLimitMillis())
                .put("multifd-channels", s.multifdChannels())
                .put("max-cpu-throttle", s.maxCpuThrottle())
                .setAll(qemuOnly());
    }
}
