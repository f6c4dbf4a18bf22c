package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.migration.ram.MigrationStats;
import dev.ferry.migration.transport.MigrationUri;
import dev.ferry.vmm.machine.migration.MigrationInfo;
import dev.ferry.vmm.machine.migration.MigrationStatus;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/**
 * query-migrate (qapi/migration.json, MigrationInfo): an empty object before any migration;
 * then status, times, the RAM figures while active and after completion, the throttle with
 * auto-converge, error-desc after a failure; on a target, the address it listens on.
 */
public final class QueryMigrate implements QmpCommand {

    @Override
    public String name() {
        return "query-migrate";
    }

    @Override
    public QmpType returns() {
        return new QmpType.Struct("MigrationInfo", List.of());
    }

    /** Answered from the migration's published figures, without waiting for the control thread. */
    @Override
    public boolean onConnectionThread() {
        return true;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        MigrationInfo info = call.migration().info();
        ObjectNode o = QmpMessages.object();
        if (info == null || info.status() == MigrationStatus.NONE) {
            return o;
        }
        o.put("status", info.status().qapiName());
        if (info.incoming()) {
            if (info.incomingAddress() != null && info.status() == MigrationStatus.SETUP) {
                socketAddress(o, info.incomingAddress());
            }
            if (info.status() == MigrationStatus.COMPLETED) {
                o.put("total-time", info.totalTimeMillis());
            }
        } else if (info.status() != MigrationStatus.SETUP && info.status() != MigrationStatus.CANCELLED
                && info.stats() != null) {
            boolean done = info.status() == MigrationStatus.COMPLETED;
            o.put("setup-time", info.setupTimeMillis());
            o.put("total-time", info.totalTimeMillis());
            if (done) {
                o.put("downtime", info.downtimeMillis());
            } else {
                o.put("expected-downtime", info.stats().expectedDowntimeMillis());
            }
            ram(o.putObject("ram"), info.stats(), info.multifdBytes(), done);
            if (info.throttlePercent() > 0) {
                o.put("cpu-throttle-percentage", info.throttlePercent());
            }
        }
        if (info.status() == MigrationStatus.FAILED && info.errorDesc() != null) {
            o.put("error-desc", info.errorDesc());
        }
        return o;
    }

    private static void ram(ObjectNode r, MigrationStats s, long multifdBytes, boolean done) {
        r.put("transferred", s.transferred());
        r.put("remaining", done ? 0 : s.remaining());
        r.put("total", s.total());
        r.put("duplicate", s.duplicate());
        r.put("skipped", 0);
        r.put("normal", s.normal());
        r.put("normal-bytes", s.normalBytes());
        r.put("dirty-pages-rate", s.dirtyPagesRate());
        r.put("mbps", s.mbps());
        r.put("dirty-sync-count", s.dirtySyncCount());
        r.put("postcopy-requests", 0);
        r.put("page-size", 4096);
        r.put("multifd-bytes", multifdBytes);
        r.put("pages-per-second", s.pagesPerSecond());
        r.put("precopy-bytes", s.transferred());
        r.put("downtime-bytes", 0);
        r.put("postcopy-bytes", 0);
    }

    /** QEMU: "socket-address": [{"type": "inet", "host", "port"}] or [{"type": "unix", "path"}]. */
    private static void socketAddress(ObjectNode o, MigrationUri uri) {
        ObjectNode a = o.putArray("socket-address").addObject();
        if (uri instanceof MigrationUri.Tcp t) {
            a.put("type", "inet").put("host", t.host()).put("port", String.valueOf(t.port()));
        } else if (uri instanceof MigrationUri.Unix u) {
            a.put("type", "unix").put("path", u.path().toString());
        }
    }
}
