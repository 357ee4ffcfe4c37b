package io.peregrine.engine.model;

import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
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

    /** A latent cache where this model's forward pass reads and writes it (the Java heap unless a backend says otherwise). */
    default LatentCache newCache(int blocks, int blockSize) {
        return new LatentCache(config().numHiddenLayers(), blocks, blockSize, config().kvCacheWidth());
    }
}
