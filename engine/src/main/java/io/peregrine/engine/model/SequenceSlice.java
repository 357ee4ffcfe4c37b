package io.peregrine.engine.model;

/**
 * One sequence's share of a forward step: {@code tokens} are new tokens at positions
 * {@code startPos .. startPos + tokens.length - 1}; positions before {@code startPos} are already in the cache.
 * A prefill chunk has many tokens, a decode step one.
 *
 * @param blockTable the cache blocks of this sequence, in order, covering at least
 *                   {@code startPos + tokens.length} positions
 * @param allLogits  return logits for every new token (golden tests, prompt logprobs), not just the last
 * @param inputEmbeddings null, or one entry per token: null where the token's {@code embed_tokens} row applies,
 *                   else the hidden-size row that replaces it (a media position, spec §4.8)
 */
public record SequenceSlice(int[] tokens, int startPos, int[] blockTable, boolean allLogits, float[][] inputEmbeddings) {

    /** A text-only slice. */
    public SequenceSlice(int[] tokens, int startPos, int[] blockTable, boolean allLogits) {
        this(tokens, startPos, blockTable, allLogits, null);
    }

    public SequenceSlice {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("a slice needs at least one token");
        }
        if (startPos < 0) {
            throw new IllegalArgumentException("negative start position");
        }
        if (inputEmbeddings != null && inputEmbeddings.length != tokens.length) {
            throw new IllegalArgumentException(inputEmbeddings.length + " input embedding entries for "
                    + tokens.length + " tokens");
        }
    }

    /** The row replacing token {@code t}'s embedding, or null. */
    public float[] inputEmbedding(int t) {
        return inputEmbeddings == null ? null : inputEmbeddings[t];
    }

    public int endPos() {
        return startPos + tokens.length;
    }
}
