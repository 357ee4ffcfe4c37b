package io.peregrine.engine.model;

/**
 * One sequence's share of a forward step: {@code tokens} are new tokens at positions
 * {@code startPos .. startPos + tokens.length - 1}; positions before {@code startPos} are already in the cache.
 * A prefill chunk has many tokens, a decode step one.
 *
 * @param blockTable the cache blocks of this sequence, in order, covering at least
 *                   {@code startPos + tokens.length} positions
 * @param allLogits  return logits for every new token (golden tests, prompt logprobs), not just the last
 */
public record SequenceSlice(int[] tokens, int startPos, int[] blockTable, boolean allLogits) {
    public SequenceSlice {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("a slice needs at least one token");
        }
        if (startPos < 0) {
            throw new IllegalArgumentException("negative start position");
        }
    }

    public int endPos() {
        return startPos + tokens.length;
    }
}
