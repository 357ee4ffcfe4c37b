package io.peregrine.engine.model;

/**
 * Receives intermediate activations during a forward pass (golden-data debugging). Names follow the golden
 * hidden-state files, e.g. {@code layer0.attn.q_b_proj_out}. The array is only valid during the call.
 */
@FunctionalInterface
public interface ForwardTrace {
    ForwardTrace NONE = (name, data, rows, cols) -> {};

    /** {@code rows × cols} values, row-major from index 0 of {@code data}. */
    void record(String name, float[] data, int rows, int cols);
}
