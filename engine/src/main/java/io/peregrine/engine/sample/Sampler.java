package io.peregrine.engine.sample;

import java.util.Arrays;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * Picks the next token from one sequence's logits. The order follows vLLM: repetition, frequency and presence
 * penalties on the logits; then greedy argmax, or temperature, min_p, top_k, top_p (on the top-k mass) and one
 * inverse-CDF draw from the request's own generator. Each choice owns its generator and draws exactly once
 * per token, so the draws of a seeded request do not depend on the batch; its logits are bit-identical in any
 * batch only on a batch-invariant backend ({@code --batch-invariant}), otherwise a near tie may go either way.
 *
 * <p>Holds scratch buffers: one instance per engine thread.
 */
public final class Sampler {
    private float[] work = new float[0];
    private double[] weight = new double[0];
    private long[] order = new long[0];

    public int sample(float[] logits, SamplingParams p, PenaltyState penalties, RandomGenerator rng) {
        SamplingRule rule = p.rule();
        // the one draw of a random choice, taken before the work on the logits (the same value as after it)
        return sample(logits, logits.length, rule, penalties, rule.greedy() ? 0.0 : rng.nextDouble());
    }

    /**
     * The token for the first {@code v} logits under {@code rule}; {@code u} in [0, 1) is the choice's draw (unused
     * when greedy). {@code logits} is not modified.
     */
    public int sample(float[] logits, int v, SamplingRule rule, PenaltyState penalties, double u) {
        if (work.length < v) {
            work = new float[v];
            weight = new double[v];
            order = new long[v];
        }
        float[] w = work;
        System.arraycopy(logits, 0, w, 0, v);
        applyPenalties(w, v, rule, penalties);
        if (rule.greedy()) {
            return argmax(w, v);
        }
        return draw(w, v, rule, u);
    }

    static void applyPenalties(float[] w, int v, SamplingRule p, PenaltyState st) {
        if (st == null) {
            return;
        }
        double rep = p.repetitionPenalty();
        if (rep != 1.0) {
            for (int t = st.seen().nextSetBit(0); t >= 0 && t < v; t = st.seen().nextSetBit(t + 1)) {
                w[t] = (float) (w[t] > 0 ? w[t] / rep : w[t] * rep);
            }
        }
        double freq = p.frequencyPenalty();
        double pres = p.presencePenalty();
        if (freq != 0.0 || pres != 0.0) {
            for (Map.Entry<Integer, Integer> e : st.outputCounts().entrySet()) {
                int t = e.getKey();
                if (t < v) {
                    w[t] = (float) (w[t] - freq * e.getValue() - pres);
                }
            }
        }
    }

    /** Index of the largest logit, the lowest index on ties. */
    static int argmax(float[] w, int v) {
        int best = -1;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < v; i++) {
            float x = w[i];
            if (Float.isNaN(x)) {
                throw new IllegalStateException("NaN logit at token " + i);
            }
            if (best < 0 || x > max) {
                max = x;
                best = i;
            }
        }
        return best;
    }

    private int draw(float[] w, int v, SamplingRule p, double draw) {
        float max = w[argmax(w, v)];
        if (max == Float.NEGATIVE_INFINITY) {
            throw new IllegalStateException("every token has -inf logit");
        }
        double invT = 1.0 / p.temperature();
        double[] e = weight;
        // Weights relative to the most likely token (whose weight is 1), so min_p is a plain threshold.
        for (int i = 0; i < v; i++) {
            e[i] = Math.exp((w[i] - max) * invT);
        }
        double minWeight = p.minP() > 0 ? p.minP() : 0.0;
        int topK = p.topK() > 0 && p.topK() < v ? p.topK() : 0;
        // top_k and top_p keep a prefix of the tokens ranked by weight (lower id first on ties): find the rank
        // where each prefix ends, then draw from the kept tokens in id order.
        long cut = Long.MIN_VALUE;
        if (topK > 0) {
            cut = prefixEnd(e, v, minWeight, cut, topK, Double.POSITIVE_INFINITY);
        }
        if (p.topP() < 1.0) {
            cut = Math.max(cut, prefixEnd(e, v, minWeight, cut, Integer.MAX_VALUE, p.topP() * mass(e, v, minWeight, cut)));
        }
        double u = draw * mass(e, v, minWeight, cut);
        int last = -1;
        for (int i = 0; i < v; i++) {
            if (kept(e, i, minWeight, cut)) {
                u -= e[i];
                last = i;
                if (u < 0) {
                    return i;
                }
            }
        }
        // Rounding left u a hair above zero: the last kept token that has weight (a token a constraint masked to
        // -inf has none and must never be drawn).
        while (last > 0 && !(e[last] > 0 && kept(e, last, minWeight, cut))) {
            last--;
        }
        return last;
    }

    private static boolean kept(double[] e, int i, double minWeight, long cut) {
        return e[i] >= minWeight && (cut == Long.MIN_VALUE || rank(e[i], i) >= cut);
    }

    private static double mass(double[] e, int v, double minWeight, long cut) {
        double m = 0;
        for (int i = 0; i < v; i++) {
            if (kept(e, i, minWeight, cut)) {
                m += e[i];
            }
        }
        return m;
    }

    /**
     * The rank of the token that completes the prefix (tokens by descending rank, among those kept so far)
     * holding {@code count} tokens or {@code massTarget} weight; {@link Long#MIN_VALUE} when all of them are
     * needed. Buckets the tokens by the top bits of their weight so only the one bucket where the prefix ends
     * is sorted, not the whole vocabulary.
     */
    private long prefixEnd(double[] e, int v, double minWeight, long cut, int count, double massTarget) {
        int lo = BUCKETS;
        int hi = -1;
        for (int i = 0; i < v; i++) {
            if (kept(e, i, minWeight, cut)) {
                int b = bucket(e[i]);
                bucketCount[b]++;
                bucketMass[b] += e[i];
                lo = Math.min(lo, b);
                hi = Math.max(hi, b);
            }
        }
        try {
            int n = 0;
            double cum = 0;
            for (int b = hi; b >= lo; b--) {
                if (bucketCount[b] == 0) {
                    continue;
                }
                if (n + bucketCount[b] < count && cum + bucketMass[b] < massTarget) {
                    n += bucketCount[b];
                    cum += bucketMass[b];
                    continue;
                }
                int k = 0;
                for (int i = 0; i < v; i++) {
                    if (kept(e, i, minWeight, cut) && bucket(e[i]) == b) {
                        order[k++] = rank(e[i], i);
                    }
                }
                Arrays.sort(order, 0, k);
                for (int j = k - 1; j >= 0; j--) {
                    n++;
                    cum += e[tokenOf(order[j])];
                    if (n >= count || cum >= massTarget) {
                        return order[j];
                    }
                }
            }
            return Long.MIN_VALUE;
        } finally {
            // leave the histogram zeroed for the next call, touching only the buckets in use
            if (hi >= lo) {
                Arrays.fill(bucketCount, lo, hi + 1, 0);
                Arrays.fill(bucketMass, lo, hi + 1, 0.0);
            }
        }
    }

    private static final int BUCKETS = 1 << 16;
    private final int[] bucketCount = new int[BUCKETS];
    private final double[] bucketMass = new double[BUCKETS];

    // Positive floats order like their bits: the top 16 bits give 65536 ordered buckets of ~1/128 relative width.
    private static int bucket(double weight) {
        return Float.floatToIntBits((float) weight) >>> 15;
    }

    // Higher rank = earlier in the ranking: larger weight, then lower token id.
    private static long rank(double weight, int token) {
        return ((long) Float.floatToIntBits((float) weight) << 32) | (~token & 0xFFFFFFFFL);
    }

    private static int tokenOf(long packed) {
        return ~(int) packed;
    }
}
