package dev.ferry.vmm.device;

/** fw_cfg's guest-visible position: the selected item and the read offset within it. */
public record FwCfgState(int selector, int offset) {}
