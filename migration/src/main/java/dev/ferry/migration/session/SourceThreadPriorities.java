package dev.ferry.migration.session;

/**
 * What a VMM does with the scheduling priority of a source session's threads around the
 * switchover ({@link SourceSession#setThreadPriorities}); every step does nothing unless the VMM
 * says otherwise. Each runs on the thread it concerns, so a VMM changes that thread's own policy.
 */
public interface SourceThreadPriorities {

    /** Leaves every thread's priority as it is. */
    SourceThreadPriorities UNCHANGED = new SourceThreadPriorities() { };

    /**
     * The engine's thread, once nothing urgent is left for it (after END). Why a VMM lowers it
     * here: when source and target share a host, the target's ACK wakes the source's threads on
     * the core of the target's thread that wrote it, and the kernel let the source's clean-up
     * run there ahead of the target loading and starting the guest.
     */
    default void yieldAfterSwitchover() { }

    /**
     * The engine's thread, once the wait for the target's answer is over (an answer, none in
     * time, a broken return path), before anything else: a failure resumes the source guest next.
     */
    default void restoreAfterAnswer() { }

    /**
     * The return-path thread, once the target has applied the SYNC before the switchover: the
     * guest stops next, and the ACK it then waits for ends the downtime, so reading it should not
     * wait for a core behind the target's guest.
     */
    default void raiseReturnPath() { }

    /**
     * The return-path thread, when it is done. It keeps its priority until then: it reads the
     * answer in a tenth of a millisecond, and its time stamp is the end of the downtime that
     * query-migrate reports.
     */
    default void lowerReturnPath() { }
}
