package dev.ferry.vmm.qmp;

/** One member of a command's arguments or of a struct. */
public record QmpArgument(String name, QmpType type, boolean optional) {

    public static QmpArgument required(String name, QmpType type) {
        return new QmpArgument(name, type, false);
    }

    public static QmpArgument optional(String name, QmpType type) {
        return new QmpArgument(name, type, true);
    }
}
