package io.peregrine.engine.runtime;

import io.peregrine.engine.config.RopeScaling;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.LanguageModel;
import io.peregrine.engine.model.SequenceSlice;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A deterministic stand-in for the decoder that really goes through the cache: each new token writes a latent
 * made of (token, position, layer) at its slot in every layer, and a token's logits are a hash of the latents
 * read back through the block table for positions 0..p. A wrong block table, a block reused while still needed
 * or a wrong prefix-cache hit changes what is read, hence the logits, hence the tokens. {@link #reference}
 * computes the same logits from the token ids alone, with no cache, as the oracle.
 */
class FakeLanguageModel implements LanguageModel {
    /** The same model, sleeping {@code millis} per forward step so that tests can act while requests run. */
    static FakeLanguageModel slowedBy(long millis) {
        return new FakeLanguageModel() {
            @Override
            public List<float[][]> forward(List<SequenceSlice> batch, LatentCache cache) {
                try {
                    Thread.sleep(millis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return super.forward(batch, cache);
            }
        };
    }

    static final int VOCAB = 64;
    static final int LAYERS = 2;
    static final int WIDTH = 4;

    private final TextConfig config = new TextConfig(VOCAB, 8, 8, 8, LAYERS, 1, 0, WIDTH - 1, 1, 1, 1, 0, 0, 0,
            0, 1, 1, 1, false, 1.0, "sigmoid", "noaux_tc", 1e-6, 10000, RopeScaling.NONE, 4096, 0, 1, 0, false);
    final AtomicInteger forwardCalls = new AtomicInteger();
    final AtomicInteger maxTokensPerCall = new AtomicInteger();
    final AtomicInteger maxSlicesPerCall = new AtomicInteger();
    /** Forward throws when a slice contains a token this accepts. */
    volatile Predicate<Integer> poison = t -> false;

    @Override
    public TextConfig config() {
        return config;
    }

    @Override
    public List<float[][]> forward(List<SequenceSlice> batch, LatentCache cache) {
        forwardCalls.incrementAndGet();
        int tokens = 0;
        for (SequenceSlice s : batch) {
            tokens += s.tokens().length;
            for (int t : s.tokens()) {
                if (poison.test(t)) {
                    throw new IllegalStateException("poisoned token " + t);
                }
            }
        }
        final int total = tokens;
        maxTokensPerCall.accumulateAndGet(total, Math::max);
        maxSlicesPerCall.accumulateAndGet(batch.size(), Math::max);
        float[] latent = new float[WIDTH];
        for (SequenceSlice s : batch) {
            for (int j = 0; j < s.tokens().length; j++) {
                int pos = s.startPos() + j;
                for (int l = 0; l < LAYERS; l++) {
                    latent[0] = s.tokens()[j];
                    latent[1] = pos;
                    latent[2] = l;
                    latent[3] = s.tokens()[j] * 31 + pos;
                    cache.write(l, cache.slot(s.blockTable(), pos), latent, 0);
                }
            }
        }
        List<float[][]> out = new ArrayList<>(batch.size());
        for (SequenceSlice s : batch) {
            int first = s.allLogits() ? s.startPos() : s.endPos() - 1;
            float[][] rows = new float[s.endPos() - first][];
            for (int p = first; p < s.endPos(); p++) {
                rows[p - first] = logitsFromCache(cache, s.blockTable(), p);
            }
            out.add(rows);
        }
        return out;
    }

    private static float[] logitsFromCache(LatentCache cache, int[] blockTable, int p) {
        long h = 17;
        for (int q = 0; q <= p; q++) {
            int slot = cache.slot(blockTable, q);
            for (int l = 0; l < LAYERS; l++) {
                float[] slab = io.peregrine.engine.backend.HostMemory.host(cache.slab(l)).data();
                for (int k = 0; k < WIDTH; k++) {
                    h = h * 1_000_003L + Float.floatToIntBits(slab[slot * WIDTH + k]);
                }
            }
        }
        return logitsOf(h);
    }

    /** The logits the model gives after {@code tokens[0..len)}, computed without a cache. */
    static float[] reference(int[] tokens, int len) {
        long h = 17;
        for (int q = 0; q < len; q++) {
            for (int l = 0; l < LAYERS; l++) {
                float[] latent = {tokens[q], q, l, tokens[q] * 31 + q};
                for (float x : latent) {
                    h = h * 1_000_003L + Float.floatToIntBits(x);
                }
            }
        }
        return logitsOf(h);
    }

    private static float[] logitsOf(long h) {
        SplittableRandom r = new SplittableRandom(h);
        float[] logits = new float[VOCAB];
        for (int v = 0; v < VOCAB; v++) {
            logits[v] = (float) (r.nextGaussian() * 2.0);
        }
        return logits;
    }
}
