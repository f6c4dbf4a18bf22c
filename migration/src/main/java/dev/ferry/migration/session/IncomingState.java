package dev.ferry.migration.session;

import dev.ferry.migration.state.StateSection;

import java.util.List;

/**
 * What a stream carries besides RAM and the vCPUs' state (which the machine decodes as it
 * arrives, {@link IncomingMachine#vcpuState}), once END has arrived: the device sections in
 * stream order and the page-state bitmap (bit set: page shared), or null when the source sent
 * none.
 */
public record IncomingState(List<StateSection> devices, long[] pageStates) {
    public IncomingState {
        devices = List.copyOf(devices);
    }
}
