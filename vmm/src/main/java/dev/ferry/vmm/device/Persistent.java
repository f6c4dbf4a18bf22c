package dev.ferry.vmm.device;

/**
 * A part of the machine whose state a migration carries (Firecracker's {@code Persist}): the
 * state is a plain record, separate from the live object, taken and put back whole. Which
 * section of the stream holds it, and at what version, is declared where the machine lists its
 * sections, once per part.
 *
 * @param <S> the state record
 */
public interface Persistent<S extends Record> {

    /** The state now; under the part's own lock, so any thread may ask. */
    S state();

    /** Puts {@code state} back: decoded (and checked) before any part of the machine is restored. */
    void restore(S state);
}
