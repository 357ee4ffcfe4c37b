package io.peregrine.engine.backend;

/**
 * A vector of int32 that lives where its backend computes: a step's token ids, positions, cache slots and the like,
 * uploaded once per step.
 */
public interface Indices {
    int length();

    /** Entries {@code [first, first + count)}, sharing this vector's memory. */
    Indices slice(int first, int count);
}
