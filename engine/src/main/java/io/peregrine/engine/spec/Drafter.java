package io.peregrine.engine.spec;

/**
 * Proposes draft tokens to follow a sequence, which the target model then verifies in one step (speculative
 * decoding). A drafter is deterministic: its proposal is a point mass, so verification needs no draft probabilities.
 * Called on the engine thread only.
 */
@FunctionalInterface
public interface Drafter {

    /**
     * Writes up to {@code max} draft tokens that may follow {@code tokens[0, length)} of sequence {@code sequence}
     * (whose first {@code promptLength} tokens are its prompt) into {@code out} and returns how many it wrote (0: no
     * proposal; the sequence decodes one token as usual). A sequence's tokens only grow between calls.
     */
    int propose(long sequence, int[] tokens, int promptLength, int length, int max, int[] out);

    /**
     * The sequence ended (finished, aborted, failed) with {@code tokens[0, length)}: a drafter that keeps state per
     * sequence frees it here, and one that learns from past outputs learns this one.
     */
    default void finished(long sequence, int[] tokens, int promptLength, int length) {}
}
