package dev.ferry.vmm.qmp;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The registry of commands, by name, in registration order. */
public final class QmpCommands {

    private final Map<String, QmpCommand> byName = new LinkedHashMap<>();

    public QmpCommands(List<QmpCommand> commands) {
        for (QmpCommand c : commands) {
            if (byName.put(c.name(), c) != null) {
                throw new IllegalArgumentException("QMP command " + c.name() + " registered twice");
            }
        }
    }

    public QmpCommand get(String name) {
        return byName.get(name);
    }

    public Collection<QmpCommand> all() {
        return byName.values();
    }
}
