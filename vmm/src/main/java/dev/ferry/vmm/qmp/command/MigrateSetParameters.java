package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.machine.migration.MigrationSettings;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpException;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/**
 * migrate-set-parameters: the parameters Ferry implements, checked with QEMU 7.2's ranges and
 * messages (migration/migration.c, migrate_params_check; the exchanges recorded from QEMU in
 * qemu-exchanges.json). max-bandwidth and downtime-limit also apply to a running migration, as
 * in QEMU; the others to the next one.
 * TLS is not offered: tls-creds/tls-hostname/tls-authz are accepted only empty, which is how
 * libvirt says "no TLS".
 */
public final class MigrateSetParameters implements QmpCommand {

    /** QEMU: max-bandwidth is limited so that bytes per millisecond fit a size_t. */
    static final long MAX_BANDWIDTH = 18446744073709L;

    static final List<QmpArgument> PARAMETERS = List.of(
            QmpArgument.optional("downtime-limit", QmpType.UINT64),
            QmpArgument.optional("max-bandwidth", QmpType.INT),
            QmpArgument.optional("multifd-channels", QmpType.UINT8),
            QmpArgument.optional("cpu-throttle-initial", QmpType.UINT8),
            QmpArgument.optional("cpu-throttle-increment", QmpType.UINT8),
            QmpArgument.optional("max-cpu-throttle", QmpType.UINT8),
            QmpArgument.optional("tls-creds", QmpType.STR),
            QmpArgument.optional("tls-hostname", QmpType.STR),
            QmpArgument.optional("tls-authz", QmpType.STR));

    @Override
    public String name() {
        return "migrate-set-parameters";
    }

    @Override
    public List<QmpArgument> arguments() {
        return PARAMETERS;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode a) {
        var migration = call.migration();
        MigrationSettings s = migration.settings();
        long downtime = range(a, "downtime-limit", "downtime_limit", 0, 2_000_000, s.downtimeLimitMillis(),
                "an integer in the range of 0 to (2000 * 1000) ms");
        long bandwidth = range(a, "max-bandwidth", "max_bandwidth", 0, MAX_BANDWIDTH, s.maxBandwidth(),
                "an integer in the range of 0 to " + MAX_BANDWIDTH + " bytes/second");
        long channels = range(a, "multifd-channels", "multifd_channels", 1, 255, s.multifdChannels(),
                "a value between 1 and 255");
        long initial = range(a, "cpu-throttle-initial", "cpu_throttle_initial", 1, 99, s.throttleInitial(),
                "an integer in the range of 1 to 99");
        long increment = range(a, "cpu-throttle-increment", "cpu_throttle_increment", 1, 99, s.throttleIncrement(),
                "an integer in the range of 1 to 99");
        long maxThrottle = range(a, "max-cpu-throttle", "max_cpu_throttle", 1, 99, s.maxCpuThrottle(),
                "an integer in the range of 1 to 99");
        for (String tls : List.of("tls-creds", "tls-hostname", "tls-authz")) {
            JsonNode v = a.get(tls);
            if (v != null && !v.textValue().isEmpty()) {
                throw new QmpException("TLS migration is not supported by Ferry ('" + tls + "' must be empty)");
            }
        }
        if (migration.active() && a.has("multifd-channels")) {
            throw new QmpException("There's a migration process in progress");
        }
        migration.setSettings(new MigrationSettings(s.capabilities(), downtime, bandwidth, (int) channels,
                (int) initial, (int) increment, (int) maxThrottle, "", ""));
        return QmpMessages.object();
    }

    private static long range(ObjectNode a, String name, String qemuName, long min, long max, long current,
                              String expects) {
        JsonNode v = a.get(name);
        if (v == null) {
            return current;
        }
        long x = v.longValue();
        if (x < min || x > max || !v.canConvertToLong()) {
            throw new QmpException("Parameter '" + qemuName + "' expects " + expects);
        }
        return x;
    }
}
