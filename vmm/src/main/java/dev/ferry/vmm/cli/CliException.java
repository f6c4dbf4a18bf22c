package dev.ferry.vmm.cli;

/** A command-line error; the message is what the user sees after "ferry: ". Exit status 1. */
public class CliException extends RuntimeException {
    public CliException(String message) {
        super(message);
    }
}
