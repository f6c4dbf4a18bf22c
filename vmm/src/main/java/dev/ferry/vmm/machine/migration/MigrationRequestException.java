package dev.ferry.vmm.machine.migration;

/** A migration command that cannot be carried out now; the message is QMP's error description. */
public final class MigrationRequestException extends RuntimeException {
    public MigrationRequestException(String message) {
        super(message);
    }
}
