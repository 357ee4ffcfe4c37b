package io.peregrine.engine.backend;

/**
 * Working memory of {@link Backend#moe} for up to {@link #capacity()} tokens, allocated once (per batch-size bucket)
 * by {@link Backend#moeScratch} and reused by every MoE layer of every step; a {@code moe} call allocates nothing.
 * It also keeps the last call's routing, which a trace copies out.
 */
public interface MoeScratch {
    int capacity();

    /** The last call's chosen experts, {@code k} per token (best first), of its first {@code tokens} tokens. */
    Indices chosen(int tokens);

    /** Their routing weights, {@code [1, tokens · k]} in the order of {@link #chosen}. */
    Activation weights(int tokens);
}
