package io.peregrine.engine.model;

import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.sample.PenaltyState;
import java.util.List;

/**
 * The text decoder as the engine drives it: one call runs every layer over a batch of sequence slices,
 * writes their new latents into the cache and returns logits.
 */
public interface LanguageModel {

    TextConfig config();

    /**
     * @return for each slice, {@code [1][vocab]} logits of its last token, or {@code [tokens][vocab]} when the
     *         slice asked for all logits
     */
    List<float[][]> forward(List<SequenceSlice> batch, LatentCache cache);

    /**
     * Runs one step and keeps its logits where they were computed ({@link StepLogits}); the engine samples them
     * there. The default keeps {@link #forward}'s host logits and samples them on the host.
     */
    default StepLogits step(List<SequenceSlice> batch, LatentCache cache) {
        List<float[][]> logits = forward(batch, cache);
        List<float[]> rows = new java.util.ArrayList<>(logits.size());
        for (float[][] slice : logits) {
            rows.addAll(List.of(slice)); // every row of a slice that asked for all logits, in batch order
        }
        float[][] flat = rows.toArray(new float[0][]);
        return b -> b.hostSampler().sample(flat, b);
    }

    /** A new sequence's token counts for the penalties, kept where this model samples. */
    default TokenCounts tokenCounts(int[] prompt, int promptLength) {
        return new PenaltyState(prompt, promptLength);
    }

    /** A latent cache where this model's forward pass reads and writes it (the Java heap unless a backend says otherwise). */
    default LatentCache newCache(int blocks, int blockSize) {
        return new LatentCache(config().numHiddenLayers(), blocks, blockSize, config().kvCacheWidth());
    }
}
