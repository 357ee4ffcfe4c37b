package io.peregrine.engine.sample;

import io.peregrine.engine.runtime.SamplingParams;
import java.util.Arrays;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * Picks the next token from one sequence's logits. The order follows vLLM: repetition, frequency and presence
 * penalties on the logits; then greedy argmax, or temperature, min_p, top_k, top_p (on the top-k mass) and one
 * inverse-CDF draw from the request's own generator. Each choice owns its generator and draws exactly once
 * per token, so a seeded request gets the same tokens whatever else is in the batch.
 *
 * <p>Holds scratch buffers: one instance per engine thread.
 */
public final class Sampler {
    private float[] work = new float[0];
    private double[] weight = new double[0];
    private long[] order = new long[0];

    public int sample(float[] logits, SamplingParams p, PenaltyState penalties, RandomGenerator rng) {
        int v = logits.length;
        if (work.length < v) {
            work = new float[v];
            weight = new double[v];
            order = new long[v];
        }
        float[] w = work;
        System.arraycopy(logits, 0, w, 0, v);
        applyPenalties(w, v, p, penalties);
        if (p.isGreedy()) {
            return argmax(w, v);
        }
        return draw(w, v, p, rng);
    }

    static void applyPenalties(float[] w, int v, SamplingParams p, PenaltyState st) {
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

    private int draw(float[] w, int v, SamplingParams p, RandomGenerator rng) {
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
        boolean topP = p.topP() < 1.0;
        if (topK == 0 && !topP) {
            double mass = 0;
            for (int i = 0; i < v; i++) {
                if (e[i] >= minWeight) {
                    mass += e[i];
                }
            }
            double u = rng.nextDouble() * mass;
            int last = -1;
            for (int i = 0; i < v; i++) {
                if (e[i] >= minWeight) {
                    u -= e[i];
                    last = i;
                    if (u < 0) {
                        return i;
                    }
                }
            }
            return last; // rounding left u a hair above zero
        }
        double allMass = 0;
        for (int i = 0; i < v; i++) {
            if (e[i] >= minWeight) {
                allMass += e[i];
            }
        }
        int n = candidates(e, v, minWeight, allMass, topK, topP ? p.topP() : 1.0);
        long[] ord = order;
        Arrays.sort(ord, 0, n);
        // ord ascending by weight: walk it from the end, most likely first.
        int keep = topK > 0 ? Math.min(topK, n) : n;
        double mass = 0;
        if (topK > 0) {
            for (int j = 0; j < keep; j++) {
                mass += e[tokenOf(ord[n - 1 - j])];
            }
        } else {
            mass = allMass; // the candidates are only the head of what min_p kept; top_p is a share of all of it
        }
        if (topP) {
            double target = p.topP() * mass;
            double cum = 0;
            int j = 0;
            while (j < keep) {
                cum += e[tokenOf(ord[n - 1 - j])];
                j++;
                if (cum >= target) {
                    break;
                }
            }
            keep = j;
            mass = cum;
        }
        double u = rng.nextDouble() * mass;
        for (int j = 0; j < keep; j++) {
            int t = tokenOf(ord[n - 1 - j]);
            u -= e[t];
            if (u < 0) {
                return t;
            }
        }
        return tokenOf(ord[n - keep]);
    }

    /**
     * Fills {@code order} with the tokens above a weight threshold low enough that they hold every token top_k
     * and top_p can keep: at least {@code topK} tokens, or at least {@code topP} of the min_p mass. Sorting only
     * those instead of the whole vocabulary is what makes top_p cheap; the result is the same as a full sort.
     */
    private int candidates(double[] e, int v, double minWeight, double allMass, int topK, double topP) {
        double t = 0.1;
        while (true) {
            double threshold = Math.max(t, minWeight);
            boolean last = t <= minWeight || t < 1e-30;
            int n = 0;
            double mass = 0;
            for (int i = 0; i < v; i++) {
                if (e[i] >= threshold) {
                    n++;
                    mass += e[i];
                }
            }
            boolean enough = topK > 0 ? n >= topK : mass >= topP * allMass;
            if (enough || last) {
                int k = 0;
                for (int i = 0; i < v; i++) {
                    if (e[i] >= threshold) {
                        order[k++] = pack((float) e[i], i);
                    }
                }
                return k;
            }
            t *= 1e-3;
        }
    }

    // Sorting ascending puts higher weights last and, among equal weights, lower token ids last.
    private static long pack(float weight, int token) {
        return ((long) Float.floatToIntBits(weight) << 32) | (~token & 0xFFFFFFFFL);
    }

    private static int tokenOf(long packed) {
        return ~(int) packed;
    }
}
