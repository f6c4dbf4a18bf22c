package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ferry.vmm.log.Log;

import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** Sends QMP events to every negotiated monitor connection. */
public final class QmpEventBus {

    private final Set<QmpSession> sessions = ConcurrentHashMap.newKeySet();
    private final Set<QmpSession> warned = ConcurrentHashMap.newKeySet();

    void subscribe(QmpSession s) {
        sessions.add(s);
    }

    void unsubscribe(QmpSession s) {
        sessions.remove(s);
        warned.remove(s);
    }

    /** Emits {@code name} with {@code data} (null or empty: no data member) to all monitors. */
    public void emit(String name, ObjectNode data) {
        emit(name, data, currentMicros());
    }

    /** As {@link #emit(String, ObjectNode)}, for an event that happened at {@code micros} (epoch). */
    public void emit(String name, ObjectNode data, long micros) {
        ObjectNode event = QmpMessages.event(name, data, micros);
        // One node for all connections: the encoder only reads it.
        for (QmpSession s : sessions) {
            s.event(event);
        }
    }

    void dropped(QmpSession s) {
        if (warned.add(s)) {
            Log.warn("a QMP client is not reading its socket; events for it are dropped");
        }
    }

    static long currentMicros() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000 + now.getNano() / 1000;
    }
}
