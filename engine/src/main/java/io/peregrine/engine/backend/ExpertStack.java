package io.peregrine.engine.backend;

/**
 * One MoE layer's routed experts held by this rank, as its backend runs them in one {@link Backend#moe} call:
 * experts {@code firstExpert() .. firstExpert() + experts() - 1} of the layer (a shard's contiguous range, or all of
 * them), each a SwiGLU {@code down(silu(gate(x)) ⊙ up(x))} with {@code gate, up: [inter, hidden]} and
 * {@code down: [hidden, inter]}. The CPU keeps the experts' own weights; CUDA adds a device table of their addresses,
 * so a grouped kernel finds any expert without copying a weight.
 */
public interface ExpertStack {
    int firstExpert();

    int experts();

    int hidden();

    int inter();

    /** Whether routed expert {@code e} (a layer-wide id) is one of these. */
    default boolean holds(int e) {
        return e >= firstExpert() && e < firstExpert() + experts();
    }
}
