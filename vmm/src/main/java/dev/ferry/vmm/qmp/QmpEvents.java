package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.machine.MachineListener;
import dev.ferry.vmm.machine.RunState;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns machine changes into QMP events with QEMU's names and data (qapi/run-state.json): STOP,
 * RESUME, RESET and SHUTDOWN {"guest", "reason"}, POWERDOWN.
 */
public final class QmpEvents implements MachineListener {

    /** The events Ferry emits and their data members, for query-qmp-schema. */
    public static final Map<String, List<QmpArgument>> DECLARED;

    static {
        Map<String, List<QmpArgument>> m = new LinkedHashMap<>();
        List<QmpArgument> guestReason = List.of(QmpArgument.required("guest", QmpType.BOOL),
                QmpArgument.required("reason", new QmpType.Enum("ShutdownCause", List.of("none", "host-error",
                        "host-qmp-quit", "host-qmp-system-reset", "host-signal", "host-ui", "guest-shutdown",
                        "guest-reset", "guest-panic", "subsystem-reset", "snapshot-load"))));
        m.put("STOP", List.of());
        m.put("RESUME", List.of());
        m.put("RESET", guestReason);
        m.put("SHUTDOWN", guestReason);
        m.put("POWERDOWN", List.of());
        m.put("MIGRATION", List.of(QmpArgument.required("status", QmpMigrationEvents.STATUS)));
        m.put("MIGRATION_PASS", List.of(QmpArgument.required("pass", QmpType.INT)));
        DECLARED = Map.copyOf(m);
    }

    private final QmpEventBus bus;

    public QmpEvents(QmpEventBus bus) {
        this.bus = bus;
    }

    @Override
    public void stateChanged(RunState from, RunState to, long epochMicros) {
        if (from == RunState.RUNNING && (to == RunState.PAUSED || to == RunState.FINISH_MIGRATE)) {
            bus.emit("STOP", null, epochMicros);
        } else if (to == RunState.RUNNING) {
            bus.emit("RESUME", null, epochMicros);
        }
    }

    @Override
    public void reset(boolean guest, String reason) {
        bus.emit("RESET", guestReason(guest, reason));
    }

    @Override
    public void shutdown(boolean guest, String reason) {
        bus.emit("SHUTDOWN", guestReason(guest, reason));
    }

    @Override
    public void powerdown() {
        bus.emit("POWERDOWN", null);
    }

    /** QEMU's ShutdownCause names; Ferry's internal reasons map onto them. */
    static ObjectNode guestReason(boolean guest, String reason) {
        String cause = switch (reason) {
            case "triple-fault", "i8042 reset command" -> "guest-reset";
            default -> reason;
        };
        return QmpMessages.object().put("guest", guest).put("reason", cause);
    }
}
