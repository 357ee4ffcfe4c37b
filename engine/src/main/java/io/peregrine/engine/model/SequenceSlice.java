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
 * @param prompt     the tokens are the prompt's (a prefill chunk), not generated ones. Under {@code --batch-invariant}
 *                   a prompt chunk of one token (a budget remainder, or the one token a prefix-cache hit leaves)
 *                   attends in the prefill form like any other chunk, so its bits do not depend on how the prompt
 *                   was chunked
 */
public record SequenceSlice(int[] tokens, int startPos, int[] blockTable, boolean allLogits, float[][] inputEmbeddings,
                            boolean prompt) {

    /** A slice whose tokens are generated ones, or whose origin does not matter (outside batch-invariant mode). */
    public SequenceSlice(int[] tokens, int startPos, int[] blockTable, boolean allLogits, float[][] inputEmbeddings) {
        this(tokens, startPos, blockTable, allLogits, inputEmbeddings, false);
    }

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
