package dev.ferry.vmm.machine;

import dev.ferry.migration.state.StateException;
import dev.ferry.migration.state.StateSection;
import dev.ferry.vmm.device.FwCfgState;
import dev.ferry.vmm.device.PageStateChannel;
import dev.ferry.vmm.device.SerialState;
import dev.ferry.vmm.device.SystemControlState;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The platform devices' state as migration sections (docs/migration-stream.md, "DEVICE"): each
 * device a named, versioned section holding its state record. A reader refuses a section it
 * does not know, one whose minimum version is newer than it reads, and a stream that lacks one.
 */
final class DeviceSections {
    private DeviceSections() {}

    /** Every section, in the order a load restores them: a device with state is one line here. */
    static final List<DeviceSection<?>> ALL = List.of(
            new DeviceSection<>("serial0", 1, 1, SerialState.class, d -> d.serial),
            new DeviceSection<>("fw_cfg", 1, 1, FwCfgState.class, d -> d.fwCfg),
            new DeviceSection<>("system-control", 1, 1, SystemControlState.class, d -> d.systemControl),
            new DeviceSection<>("page-state-channel", 1, 1, PageStateChannel.State.class, d -> d.pageStateChannel));

    /** Section name → its place in {@link #ALL}. */
    private static final Map<String, Integer> INDEX = index();

    private static Map<String, Integer> index() {
        Map<String, Integer> m = new HashMap<>();
        for (int i = 0; i < ALL.size(); i++) {
            if (m.put(ALL.get(i).name(), i) != null) {
                throw new IllegalStateException("device section '" + ALL.get(i).name() + "' is listed twice");
            }
        }
        return Map.copyOf(m);
    }

    static List<StateSection> save(PlatformDevices d) {
        List<StateSection> out = new ArrayList<>(ALL.size());
        for (DeviceSection<?> s : ALL) {
            out.add(s.save(d));
        }
        return out;
    }

    /** The newest version of section {@code name} this Ferry reads. */
    static int version(String name) throws StateException {
        Integer i = INDEX.get(name);
        if (i == null) {
            throw new StateException("unknown device section '" + name + "'");
        }
        return ALL.get(i).version();
    }

    /** Decodes every section first, then applies them: a bad section changes nothing. */
    static void load(PlatformDevices d, List<StateSection> sections) throws StateException {
        Object[] states = decode(sections);
        for (int i = 0; i < states.length; i++) {
            ALL.get(i).restore(d, states[i]);
        }
    }

    /** Each section's state record, in the order of {@link #ALL}; changes nothing. */
    static Object[] decode(List<StateSection> sections) throws StateException {
        Object[] states = new Object[ALL.size()];
        boolean[] seen = new boolean[ALL.size()];
        for (StateSection s : sections) {
            Integer i = INDEX.get(s.name());
            if (i != null && seen[i]) {
                throw new StateException("device section '" + s.name() + "' appears twice");
            }
            if (i == null) {
                throw new StateException("unknown device section '" + s.name() + "'");
            }
            seen[i] = true;
            states[i] = ALL.get(i).decode(s);
        }
        List<String> missing = null;
        for (int i = 0; i < seen.length; i++) {
            if (!seen[i]) {
                missing = missing == null ? new ArrayList<>() : missing;
                missing.add(ALL.get(i).name());
            }
        }
        if (missing != null) {
            throw new StateException("the stream lacks device state for " + String.join(", ", missing));
        }
        return states;
    }
}
