package dev.ferry.vmm.machine;

import dev.ferry.migration.state.StateException;
import dev.ferry.migration.state.StateSection;
import dev.ferry.migration.state.StateSectionCodec;
import dev.ferry.vmm.device.Persistent;

import java.util.Map;
import java.util.function.Function;

/**
 * One section of the platform's saved state (docs/migration-stream.md, "DEVICE"): its name in
 * the stream, the version this Ferry writes and reads, the oldest reader version that can load
 * it, its state record, and which part of the platform holds it. A load decodes every section
 * ({@link #decode}) before it restores any: the step where a section's fields are checked.
 *
 * @param version        the newest version of this section this Ferry writes and reads
 * @param minimumVersion a reader older than this must refuse what this Ferry writes
 */
record DeviceSection<S extends Record>(String name, int version, int minimumVersion, Class<S> type,
                                       Function<PlatformDevices, Persistent<S>> part) {

    /** The part's state now, as this section. */
    StateSection save(PlatformDevices devices) {
        return new StateSection(name, version, minimumVersion, StateSectionCodec.stateOf(part.apply(devices).state()),
                Map.of());
    }

    /** The section's state as its record; refused if it does not fit. Changes nothing. */
    S decode(StateSection section) throws StateException {
        return StateSectionCodec.stateAs(section, type);
    }

    /** Puts a state that {@link #decode} returned back into the part. */
    void restore(PlatformDevices devices, Object decoded) {
        part.apply(devices).restore(type.cast(decoded));
    }
}
