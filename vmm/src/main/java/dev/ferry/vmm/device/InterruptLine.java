package dev.ferry.vmm.device;

/** A level-triggered interrupt line from a device to the interrupt controller. */
@FunctionalInterface
public interface InterruptLine {

    void set(boolean high);

    InterruptLine NONE = high -> { };
}
