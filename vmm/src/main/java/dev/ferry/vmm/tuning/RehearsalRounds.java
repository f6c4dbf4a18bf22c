package dev.ferry.vmm.tuning;

/**
 * What a {@link MigrationRehearsal} goes through, given by the migration code it warms up: the
 * rehearsal decides when, how often and at what priority, this says what a round is. Called on
 * the rehearsal's thread, in the order begin, migration (a few times), stateTransfer (many
 * times), end.
 */
public interface RehearsalRounds {

    /** Before the first round (the machine's own state saved once, as the rounds send it). */
    void begin() throws Exception;

    /** One scratch migration, end to end; {@link SelfCheckFailed} if its copy differs. */
    void migration() throws Exception;

    /** One round of a switchover's state transfer: the state codecs and the machine's own state save. */
    void stateTransfer() throws Exception;

    /** After the last round, whatever its outcome: releases what the rounds took. */
    void end();
}
