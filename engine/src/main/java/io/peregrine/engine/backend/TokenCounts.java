package io.peregrine.engine.backend;

/**
 * One sequence's token counts for the sampling penalties (which tokens appeared in prompt or output, how often each
 * appeared in the output), kept where its backend samples and updated there with every sampled token.
 */
public interface TokenCounts {
    /** An independent copy (a forked choice continues from its parent's counts). */
    TokenCounts copy();

    /**
     * An independent copy that has also seen {@code tokens[from, to)} as output: the counts a speculating step's row
     * after those draft tokens samples with, as plain decoding would have them there. null when the counts live
     * where the host cannot add to them (the device pool); penalised choices then decode without speculation.
     */
    default TokenCounts copyWith(int[] tokens, int from, int to) {
        return null;
    }
}
