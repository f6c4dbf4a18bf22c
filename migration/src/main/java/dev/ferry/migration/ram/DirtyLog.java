package dev.ferry.migration.ram;

/** Which pages the guest wrote: KVM's dirty log behind a small interface. */
public interface DirtyLog {

    /** Starts logging; pages written from now on are reported by {@link #fetchAndClear()}. */
    void start();

    /** Bit i of word i/64: page i was written since the previous call (or since start). */
    long[] fetchAndClear();

    void stop();
}
