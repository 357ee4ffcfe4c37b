package io.peregrine.engine.kv;

import io.peregrine.engine.config.TextConfig;

/**
 * The one piece of arithmetic that turns a byte budget into cache capacity, shared by {@code serve} (which sizes
 * its {@link LatentCache} from {@code --kv-cache-memory}) and {@code plan}. A token costs
 * {@code layers * width * bytesPerValue} bytes, with {@code width = kv_lora_rank + qk_rope_head_dim} (MLA keeps one
 * latent per token for all heads); the budget is cut into whole blocks of {@code blockSize} tokens, and only whole
 * blocks count, which is how vLLM reports "GPU KV cache size" for a model with one attention type.
 *
 * @param bytesPerValue 4 for the CPU backend's fp32 cache, 2 for bf16, 1 for fp8
 */
public record KvCacheGeometry(int layers, int width, int bytesPerValue, int blockSize) {

    public KvCacheGeometry {
        if (layers <= 0 || width <= 0 || bytesPerValue <= 0 || blockSize <= 0) {
            throw new IllegalArgumentException("bad KV cache geometry: " + layers + " layers, width " + width + ", "
                    + bytesPerValue + " B per value, blocks of " + blockSize);
        }
    }

    public static KvCacheGeometry of(TextConfig text, int bytesPerValue, int blockSize) {
        return new KvCacheGeometry(text.numHiddenLayers(), text.kvCacheWidth(), bytesPerValue, blockSize);
    }

    public long bytesPerToken() {
        return (long) layers * width * bytesPerValue;
    }

    public long bytesPerBlock() {
        return bytesPerToken() * blockSize;
    }

    /** Whole blocks that fit {@code budget} bytes. */
    public long blocksFor(long budget) {
        return Math.max(0, budget) / bytesPerBlock();
    }

    /** Token slots in the whole blocks that fit {@code budget} bytes. */
    public long tokensFor(long budget) {
        return blocksFor(budget) * blockSize;
    }

    /** Blocks one sequence of {@code tokens} positions occupies. */
    public long blocksPerSequence(long tokens) {
        return (tokens + blockSize - 1) / blockSize;
    }
}
