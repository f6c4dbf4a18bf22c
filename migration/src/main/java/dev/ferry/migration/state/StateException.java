package dev.ferry.migration.state;

/** Saved state that cannot be loaded; the message says which section and why. */
public class StateException extends Exception {
    public StateException(String message) {
        super(message);
    }
}
