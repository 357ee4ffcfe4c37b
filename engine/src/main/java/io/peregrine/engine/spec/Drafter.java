package io.peregrine.engine.spec;

/**
 * Proposes draft tokens to follow a sequence, which the target model then verifies in one step (speculative
 * decoding). A drafter is deterministic: its proposal is a point mass, so verification needs no draft probabilities.
 * Called on the engine thread only.
 */
public interface Drafter {

    /**
     * Writes up to {@code max} draft tokens that may follow {@code tokens[0, length)} into {@code out} and returns how
     * many it wrote (0: no proposal; the sequence decodes one token as usual).
     */
    int propose(int[] tokens, int length, int max, int[] out);
}
