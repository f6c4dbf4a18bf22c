package dev.ferry.migration.session;

import dev.ferry.migration.state.StateSection;

import java.util.List;

/**
 * Everything but RAM that a stream carries, once END has arrived: one section per vCPU in vCPU
 * order, the device sections in stream order, and the page-state bitmap (bit set: page shared),
 * or null when the source sent none.
 */
public record IncomingState(List<StateSection> vcpus, List<StateSection> devices, long[] pageStates) {
    public IncomingState {
        vcpus = List.copyOf(vcpus);
        devices = List.copyOf(devices);
    }
}
