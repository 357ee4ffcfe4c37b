package io.peregrine.engine.shard;

/** Where a tensor lives across the ranks of a tensor-parallel group. */
public sealed interface Placement {

    /** Every rank holds the whole tensor. */
    record Replicated() implements Placement {}

    /**
     * Rank {@code r} holds the {@code r}-th of {@code parts} contiguous slices along {@code dim}: dim 0 is the output
     * rows of a {@code [out, in]} Linear (a column-parallel layer), dim 1 its input columns (a row-parallel layer,
     * whose partial outputs the ranks sum).
     */
    record Split(int dim, int parts) implements Placement {}

    /** Only {@code rank} holds it (a routed expert under expert parallelism). */
    record Owned(int rank) implements Placement {}

    Replicated REPLICATED = new Replicated();
}
