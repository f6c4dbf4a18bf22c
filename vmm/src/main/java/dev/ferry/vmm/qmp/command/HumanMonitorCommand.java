package dev.ferry.vmm.qmp.command;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.machine.RunState;
import dev.ferry.vmm.qmp.QmpArgument;
import dev.ferry.vmm.qmp.QmpCall;
import dev.ferry.vmm.qmp.QmpCommand;
import dev.ferry.vmm.qmp.QmpMessages;
import dev.ferry.vmm.qmp.QmpType;

import java.util.List;

/**
 * human-monitor-command: the few HMP commands management tools send through QMP. As in QEMU, an
 * unknown HMP command is a successful reply whose text says so.
 */
public final class HumanMonitorCommand implements QmpCommand {

    @Override
    public String name() {
        return "human-monitor-command";
    }

    @Override
    public List<QmpArgument> arguments() {
        return List.of(QmpArgument.required("command-line", QmpType.STR),
                QmpArgument.optional("cpu-index", QmpType.INT));
    }

    @Override
    public QmpType returns() {
        return QmpType.STR;
    }

    @Override
    public JsonNode execute(QmpCall call, ObjectNode arguments) {
        String line = arguments.get("command-line").textValue().trim();
        String text = switch (line.replaceAll("\\s+", " ")) {
            case "info status" -> "VM status: " + describe(call.machine().state()) + "\r\n";
            case "info name" -> call.machine().config().name() == null ? ""
                    : call.machine().config().name() + "\r\n";
            case "info version" -> "7.2.0 (ferry-0.1.0)\r\n";
            default -> "unknown command: '" + line.split(" ", 2)[0] + "'\r\n";
        };
        return QmpMessages.MAPPER.getNodeFactory().textNode(text);
    }

    /** HMP's wording (monitor/hmp-cmds.c, hmp_info_status). */
    static String describe(RunState s) {
        return switch (s) {
            case RUNNING -> "running";
            case PAUSED -> "paused";
            default -> "paused (" + s.qapiName() + ")";
        };
    }
}
