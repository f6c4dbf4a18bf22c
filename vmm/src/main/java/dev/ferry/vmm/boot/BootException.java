package dev.ferry.vmm.boot;

/** The kernel image cannot be booted; the message says why in a user's terms. */
public class BootException extends RuntimeException {
    public BootException(String message) {
        super(message);
    }

    public BootException(String message, Throwable cause) {
        super(message, cause);
    }
}
