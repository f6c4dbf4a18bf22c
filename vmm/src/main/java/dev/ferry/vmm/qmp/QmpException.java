package dev.ferry.vmm.qmp;

/** A command failed; becomes {@code {"error": {"class": ..., "desc": ...}}}. */
public class QmpException extends RuntimeException {
    private final QmpErrorClass errorClass;

    public QmpException(QmpErrorClass errorClass, String description) {
        super(description);
        this.errorClass = errorClass;
    }

    public QmpException(String description) {
        this(QmpErrorClass.GenericError, description);
    }

    public QmpErrorClass errorClass() {
        return errorClass;
    }
}
