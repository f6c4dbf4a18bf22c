package dev.ferry.vmm.qmp;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What Ferry says about itself in the greeting and query-version. Ferry reports the QEMU
 * version whose QMP behaviour it follows, so clients that switch on the version take QEMU 7.2's
 * paths; the package string names Ferry.
 */
public record QmpServerInfo(int major, int minor, int micro, String packageName) {

    public static final QmpServerInfo FERRY = new QmpServerInfo(7, 2, 0, "ferry-0.1.0");

    /** {"qemu": {"micro", "minor", "major"}, "package"}, in QEMU's member order. */
    public ObjectNode version() {
        ObjectNode v = QmpMessages.object();
        v.putObject("qemu").put("micro", micro).put("minor", minor).put("major", major);
        v.put("package", packageName);
        return v;
    }

    /**
     * The greeting (qmp-spec.rst, "Server Greeting"). No capabilities: Ferry does not offer
     * out-of-band execution, so "oob" is not advertised.
     */
    public ObjectNode greeting() {
        ObjectNode g = QmpMessages.object();
        ObjectNode qmp = g.putObject("QMP");
        qmp.set("version", version());
        qmp.putArray("capabilities");
        return g;
    }
}
