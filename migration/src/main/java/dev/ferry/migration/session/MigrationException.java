package dev.ferry.migration.session;

/**
 * A migration did not complete. The message is the operator-facing reason (QMP error-desc);
 * {@link #cancelled()} tells migrate_cancel from a failure.
 */
public final class MigrationException extends Exception {

    private final boolean cancelled;

    public MigrationException(String message, boolean cancelled, Throwable cause) {
        super(message, cause);
        this.cancelled = cancelled;
    }

    public MigrationException(String message) {
        this(message, false, null);
    }

    public boolean cancelled() {
        return cancelled;
    }
}
