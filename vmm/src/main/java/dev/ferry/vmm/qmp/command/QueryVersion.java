package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpServerInfo;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/** query-version: the QEMU version whose QMP Ferry follows, and Ferry's package string. */
public final class QueryVersion implements QmpCommand {
    private final QmpServerInfo info;

    public QueryVersion(QmpServerInfo info) {
        this.info = info;
    }

    @Override
    public String name() {
        return "query-version";
    }

    @Override
    public QmpType returns() {
        return new QmpType.Struct("VersionInfo", List.of());
    }

    @Override
    public boolean onConnectionThread() {
        return true;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        return info.version();
    }
}
