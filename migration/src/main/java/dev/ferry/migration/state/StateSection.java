package dev.ferry.migration.state;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Map;

/**
 * One device's (or the machine's) saved state in a DEVICE record, versioned the way QEMU's
 * vmstate is (docs/devel/migration in QEMU): the writer's version, the oldest reader version
 * that can load it, the state itself, and optional subsections a reader that does not know them
 * may skip.
 *
 * @param name           the section, e.g. "serial0"
 * @param version        version of the state's layout as written
 * @param minimumVersion a reader older than this must refuse the section
 * @param state          the state, as JSON (a record encoded by Jackson)
 * @param subsections    optional additions by name
 */
public record StateSection(String name, int version, int minimumVersion, JsonNode state,
                           Map<String, JsonNode> subsections) {

    public StateSection {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("a state section needs a name");
        }
        if (minimumVersion > version || minimumVersion < 1) {
            throw new IllegalArgumentException(name + ": minimum version " + minimumVersion
                    + " must be between 1 and the version " + version);
        }
        subsections = Map.copyOf(subsections);
    }
}
