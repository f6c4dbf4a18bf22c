package dev.ferry.vmm.cli;

import dev.ferry.vmm.machine.MachineConfig;

/** What the command line asks for. */
public sealed interface CliRequest {

    record Run(MachineConfig config) implements CliRequest {}

    record ShowVersion() implements CliRequest {}

    record ShowHelp() implements CliRequest {}
}
