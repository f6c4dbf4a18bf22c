package dev.ferry.vmm.machine;

import dev.ferry.migration.state.StateException;
import dev.ferry.migration.state.StateSection;
import dev.ferry.migration.state.StateSectionCodec;
import dev.ferry.vmm.device.FwCfgState;
import dev.ferry.vmm.device.PageStateChannel;
import dev.ferry.vmm.device.SerialState;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The platform devices' state as migration sections (docs/migration-stream.md, "DEVICE"): each
 * device a named, versioned section holding its state record. A reader refuses a section it
 * does not know, one whose minimum version is newer than it reads, and a stream that lacks one.
 */
final class DeviceSections {
    private DeviceSections() {}

    static final String SERIAL = "serial0";
    static final String FW_CFG = "fw_cfg";
    static final String SYSTEM_CONTROL = "system-control";
    static final String PAGE_STATE_CHANNEL = "page-state-channel";

    /** Section name → newest version this Ferry reads. */
    static final Map<String, Integer> VERSIONS = Map.of(SERIAL, 1, FW_CFG, 1, SYSTEM_CONTROL, 1,
            PAGE_STATE_CHANNEL, 1);

    record SystemControlState(int pendingRequests) {}

    static List<StateSection> save(PlatformDevices d) {
        return List.of(
                section(SERIAL, d.serial.state()),
                section(FW_CFG, d.fwCfg.state()),
                section(SYSTEM_CONTROL, new SystemControlState(d.systemControl.pendingRequests())),
                section(PAGE_STATE_CHANNEL, d.pageStateChannel.state()));
    }

    static int version(String name) throws StateException {
        Integer v = VERSIONS.get(name);
        if (v == null) {
            throw new StateException("unknown device section '" + name + "'");
        }
        return v;
    }

    record Decoded(SerialState serial, FwCfgState fwCfg, SystemControlState sysctl, PageStateChannel.State channel) {}

    /** Decodes every section first, then applies them: a bad section changes nothing. */
    static void load(PlatformDevices d, List<StateSection> sections) throws StateException {
        Decoded x = decode(sections);
        d.serial.restore(x.serial());
        d.fwCfg.restore(x.fwCfg());
        d.systemControl.restorePendingRequests(x.sysctl().pendingRequests());
        d.pageStateChannel.restore(x.channel());
    }

    static Decoded decode(List<StateSection> sections) throws StateException {
        Set<String> seen = new HashSet<>();
        SerialState serial = null;
        FwCfgState fwCfg = null;
        SystemControlState sysctl = null;
        PageStateChannel.State channel = null;
        for (StateSection s : sections) {
            if (!seen.add(s.name())) {
                throw new StateException("device section '" + s.name() + "' appears twice");
            }
            switch (s.name()) {
                case SERIAL -> serial = StateSectionCodec.stateAs(s, SerialState.class);
                case FW_CFG -> fwCfg = StateSectionCodec.stateAs(s, FwCfgState.class);
                case SYSTEM_CONTROL -> sysctl = StateSectionCodec.stateAs(s, SystemControlState.class);
                case PAGE_STATE_CHANNEL -> channel = StateSectionCodec.stateAs(s, PageStateChannel.State.class);
                default -> throw new StateException("unknown device section '" + s.name() + "'");
            }
        }
        List<String> missing = new ArrayList<>(VERSIONS.keySet());
        missing.removeAll(seen);
        if (!missing.isEmpty()) {
            throw new StateException("the stream lacks device state for " + String.join(", ", missing));
        }
        return new Decoded(serial, fwCfg, sysctl, channel);
    }

    private static StateSection section(String name, Object state) {
        return new StateSection(name, VERSIONS.get(name), 1, StateSectionCodec.stateOf(state), Map.of());
    }
}
