package dev.ferry.migration.session;

import dev.ferry.migration.config.MachineIdentity;
import dev.ferry.migration.ram.PageSink;
import dev.ferry.migration.state.StateException;
import dev.ferry.migration.state.StateSection;

/** What the target VMM offers an incoming stream. Its guest does not run while the stream loads. */
public interface IncomingMachine {

    /** The target's own configuration, compared with the stream's CONFIG record. */
    MachineIdentity identity();

    /**
     * Sets all guest RAM to zero, cheaply (the source does not send pages it knows are zero).
     * Called once the CONFIG record is accepted, before the first page.
     */
    void clearRam();

    /** Where RAM pages go. */
    PageSink pages();

    /** The newest version of a device section this VMM reads; StateException for an unknown one. */
    int deviceSectionVersion(String name) throws StateException;

    /** The number of pages the page-state bitmap covers here. */
    long pageStatePages();

    /**
     * Loads vCPU, device and page state into the stopped machine. Throws if the state does not
     * fit; then the guest must not run.
     */
    void load(IncomingState state) throws StateException;
}
