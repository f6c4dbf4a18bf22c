package dev.ferry.vmm.device;

/** The system-control device's saved state: the requests the guest has not read yet. */
public record SystemControlState(int pendingRequests) {}
