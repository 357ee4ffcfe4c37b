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
 *                   the attention form follows it, not the slice's length: a prompt chunk of one token (a budget
 *                   remainder, or the one token a prefix-cache hit leaves) attends in the prefill form like any other
 *                   chunk, and generated tokens scored together (speculative verification) each in the decode form,
 *                   so a token's bits depend neither on where chunking cut its prompt nor on speculation
 */
public record SequenceSlice(int[] tokens, int startPos, int[] blockTable, boolean allLogits, float[][] inputEmbeddings,
                            boolean prompt) {

    /** A slice whose origin is not stated: several tokens are taken for a prompt chunk, one for a generated token. */
    public SequenceSlice(int[] tokens, int startPos, int[] blockTable, boolean allLogits, float[][] inputEmbeddings) {
        this(tokens, startPos, blockTable, allLogits, inputEmbeddings, tokens.length > 1);
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
