package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/**
 * query-cpus-fast: one entry per vCPU with its host thread id, as QEMU reports it; the topology
 * is one socket with one core per vCPU.
 */
public final class QueryCpusFast implements QmpCommand {

    @Override
    public String name() {
        return "query-cpus-fast";
    }

    @Override
    public QmpType returns() {
        return new QmpType.ArrayOf(new QmpType.Struct("CpuInfoFast", List.of()));
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        ArrayNode out = QmpMessages.MAPPER.createArrayNode();
        int[] tids = call.machine().vcpuThreadIds();
        for (int i = 0; i < tids.length; i++) {
            ObjectNode cpu = out.addObject();
            cpu.put("thread-id", tids[i]);
            cpu.putObject("props").put("core-id", i).put("thread-id", 0).put("socket-id", 0);
            cpu.put("qom-path", "/machine/unattached/device[" + i + "]");
            cpu.put("cpu-index", i);
            cpu.put("target", "x86_64");
        }
        return out;
    }
}
