package io.peregrine.engine.backend;

/**
 * One sequence's token counts for the sampling penalties (which tokens appeared in prompt or output, how often each
 * appeared in the output), kept where its backend samples and updated there with every sampled token.
 */
public interface TokenCounts {
    /** An independent copy (a forked choice continues from its parent's counts). */
    TokenCounts copy();
}
