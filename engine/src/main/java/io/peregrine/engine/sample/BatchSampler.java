package io.peregrine.engine.sample;

import java.util.Arrays;

/**
 * Samples a {@link SamplingBatch} from logits rows in host memory: each row's logits copied, its constraint's
 * bitmask applied (disallowed tokens to -inf), the token drawn by {@link Sampler} with the row's draw and counts,
 * the counts advanced, and the requested logprobs of the masked distribution written back. The CPU backend's
 * sampling (its logits are on the heap); holds scratch, so one per backend, used from one thread at a time.
 */
public final class BatchSampler {
    private final Sampler sampler = new Sampler();
    private float[] dist = new float[0];
    private final int[] best = new int[SamplingBatch.MAX_TOP];
    private final float[] lp = new float[SamplingBatch.MAX_TOP + 1];

    /**
     * @param data   the logits, row {@code r} of {@code vocab} values at {@code offset + r · stride}
     */
    public void sample(float[] data, int offset, int stride, int vocab, SamplingBatch b) {
        for (int i = 0; i < b.rows(); i++) {
            sampleRow(b, i, data, offset + b.logitsRow(i) * stride, vocab);
        }
    }

    /** Each row from {@code rows[logitsRow]}, logits rows as the host holds them. */
    public void sample(float[][] rows, SamplingBatch b) {
        for (int i = 0; i < b.rows(); i++) {
            float[] row = rows[b.logitsRow(i)];
            sampleRow(b, i, row, 0, row.length);
        }
    }

    private void sampleRow(SamplingBatch b, int i, float[] src, int srcOff, int vocab) {
        if (dist.length < vocab) {
            dist = new float[vocab];
        }
        System.arraycopy(src, srcOff, dist, 0, vocab);
        long[] allowed = b.allowed(i);
        if (allowed != null) {
            mask(dist, vocab, allowed);
        }
        PenaltyState counts = (PenaltyState) b.counts(i);
        int token = sampler.sample(dist, vocab, b.rule(i), counts, b.draw(i));
        if (counts != null) {
            counts.accept(token);
        }
        b.setToken(i, token);
        if (b.topLogprobs(i) >= 0) {
            int filled = Logprobs.compute(dist, vocab, token, b.topLogprobs(i), best, lp);
            b.setLogprob(i, lp[0]);
            for (int j = 0; j < filled; j++) {
                b.setTop(i, j, best[j], lp[j + 1]);
            }
        }
    }

    private static void mask(float[] dist, int vocab, long[] allowed) {
        boolean any = false;
        for (int t = 0; t < vocab; t++) {
            if (SamplingBatch.allows(allowed, t)) {
                any |= dist[t] != Float.NEGATIVE_INFINITY;
            } else {
                dist[t] = Float.NEGATIVE_INFINITY;
            }
        }
        if (!any) {
            Arrays.fill(dist, 0, vocab, Float.NEGATIVE_INFINITY);
            throw new IllegalStateException("the token constraint allows no token");
        }
    }
}
