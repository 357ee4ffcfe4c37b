package io.peregrine.kernels.reference;

/**
 * The scalar twin of {@code pg_sample_rows} (src/main/cuda/sample_rows.cuh), step for step: the same passes, the same
 * bisection over the 64-bit rank for the top_k and top_p cuts, the same chunked scan for the draw (1024 chunks, as the
 * kernel's 1024 threads), the same counts encoding and result codes. Tested against the engine's host sampler on the
 * CPU, so the kernel's algorithm is checked without a GPU; the device check compares the kernel against it.
 */
public final class SampleRowsReference {
    public static final int SEEN = 0x80000000;
    public static final int NO_ALLOWED_TOKEN = -2;
    public static final int ALL_NEG_INF = -3;
    private static final int THREADS = 1024;

    private SampleRowsReference() {}

    /** One row's rule, as the kernel's 12 parameters carry it. */
    public record Rule(double temperature, double topP, int topK, double minP, double presence, double frequency,
                       double repetition) {}

    /**
     * Samples one row.
     *
     * @param mask   the allowed-token bitmask or null
     * @param counts the row's counts slot ({@code vocab} words: bit 31 seen, low bits output count) or null; advanced
     * @param top    top logprobs wanted (-1 none); {@code lp[0]} gets the token's, {@code topIds}/{@code lp[1..]} the
     *               alternatives' ({@code topIds[j] = -1} past the last)
     * @return the token, or {@link #NO_ALLOWED_TOKEN} / {@link #ALL_NEG_INF}
     */
    public static int sample(float[] logits, int off, int vocab, long[] mask, int[] counts, Rule r, double draw,
                             int top, int[] topIds, float[] lp) {
        float maskedMax = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            maskedMax = Math.max(maskedMax, masked(logits, off, mask, i));
        }
        int token;
        if (mask != null && maskedMax == Float.NEGATIVE_INFINITY) {
            token = NO_ALLOWED_TOKEN;
        } else {
            float bv = Float.NEGATIVE_INFINITY;
            int bi = 0;
            for (int i = 0; i < vocab; i++) {
                float x = penalised(masked(logits, off, mask, i), counts, i, r);
                if (x > bv) {
                    bv = x;
                    bi = i;
                }
            }
            if (r.temperature() <= 0) {
                token = bi;
            } else if (bv == Float.NEGATIVE_INFINITY) {
                token = ALL_NEG_INF;
            } else {
                token = draw(logits, off, vocab, mask, counts, r, draw, bv);
            }
        }
        if (counts != null && token >= 0) {
            counts[token] = ((counts[token] & ~SEEN) + 1) | SEEN;
        }
        if (top < 0 || token < 0) {
            return token;
        }
        double z = 0;
        for (int i = 0; i < vocab; i++) {
            z += Math.exp(masked(logits, off, mask, i) - maskedMax);
        }
        double logZ = maskedMax + Math.log(z);
        lp[0] = (float) (masked(logits, off, mask, token) - logZ);
        java.util.Arrays.fill(topIds, -1);
        float prevV = Float.POSITIVE_INFINITY;
        int prevI = -1;
        for (int j = 0; j < top && j < topIds.length; j++) {
            float v = Float.NEGATIVE_INFINITY;
            int best = Integer.MAX_VALUE;
            for (int i = 0; i < vocab; i++) {
                float x = masked(logits, off, mask, i);
                boolean after = x < prevV || (x == prevV && i > prevI);
                if (after && x != Float.NEGATIVE_INFINITY && (x > v || (x == v && i < best))) {
                    v = x;
                    best = i;
                }
            }
            if (v == Float.NEGATIVE_INFINITY) {
                break;
            }
            topIds[j] = best;
            lp[j + 1] = (float) (v - logZ);
            prevV = v;
            prevI = best;
        }
        return token;
    }

    private static int draw(float[] logits, int off, int vocab, long[] mask, int[] counts, Rule r, double draw, float mx) {
        double invT = 1.0 / r.temperature();
        double[] w = new double[vocab];
        for (int i = 0; i < vocab; i++) {
            float x = penalised(masked(logits, off, mask, i), counts, i, r);
            w[i] = Math.exp((x - mx) * invT);
        }
        double minW = r.minP() > 0 ? r.minP() : 0;
        long cut = 0;
        if (r.topK() > 0 && r.topK() < vocab) {
            cut = prefixEnd(w, minW, cut, r.topK(), false);
        }
        if (r.topP() < 1.0) {
            double target = r.topP() * prefix(w, minW, cut, 0, true);
            long c = prefixEnd(w, minW, cut, target, true);
            cut = Long.compareUnsigned(c, cut) > 0 ? c : cut;
        }
        int chunk = (vocab + THREADS - 1) / THREADS;
        double[] cs = new double[THREADS];
        int last = -1;
        for (int t = 0; t < THREADS; t++) {
            for (int i = Math.min(vocab, t * chunk); i < Math.min(vocab, t * chunk + chunk); i++) {
                if (kept(w[i], i, minW, cut)) {
                    cs[t] += w[i];
                    if (w[i] > 0) {
                        last = i;
                    }
                }
            }
        }
        double run = 0;
        double[] start = new double[THREADS];
        for (int t = 0; t < THREADS; t++) {
            start[t] = run;
            run += cs[t];
        }
        double u = draw * run;
        for (int t = 0; t < THREADS; t++) {
            if (start[t] <= u && u < start[t] + cs[t]) {
                double part = 0;
                for (int i = Math.min(vocab, t * chunk); i < Math.min(vocab, t * chunk + chunk); i++) {
                    if (kept(w[i], i, minW, cut)) {
                        part += w[i];
                        if (u < start[t] + part) {
                            return i;
                        }
                    }
                }
            }
        }
        return Math.max(0, last);
    }

    static float masked(float[] logits, int off, long[] mask, int i) {
        if (mask != null && (mask[i >>> 6] & (1L << i)) == 0) {
            return Float.NEGATIVE_INFINITY;
        }
        float x = logits[off + i];
        return Float.isNaN(x) ? Float.NEGATIVE_INFINITY : x;
    }

    static float penalised(float x, int[] counts, int i, Rule r) {
        if (counts == null) {
            return x;
        }
        int c = counts[i];
        if (r.repetition() != 1.0 && (c & SEEN) != 0) {
            x = (float) (x > 0 ? x / r.repetition() : x * r.repetition());
        }
        int n = c & ~SEEN;
        if ((r.frequency() != 0.0 || r.presence() != 0.0) && n > 0) {
            x = (float) (x - r.frequency() * n - r.presence());
        }
        return Float.isNaN(x) ? Float.NEGATIVE_INFINITY : x;
    }

    static long rank(double e, int i) {
        return ((long) Float.floatToIntBits((float) e) << 32) | (~i & 0xFFFFFFFFL);
    }

    static boolean kept(double e, int i, double minW, long cut) {
        return e >= minW && Long.compareUnsigned(rank(e, i), cut) >= 0;
    }

    static double prefix(double[] w, double minW, long cut, long c, boolean mass) {
        double s = 0;
        for (int i = 0; i < w.length; i++) {
            if (kept(w[i], i, minW, cut) && Long.compareUnsigned(rank(w[i], i), c) >= 0) {
                s += mass ? w[i] : 1.0;
            }
        }
        return s;
    }

    static long prefixEnd(double[] w, double minW, long cut, double target, boolean mass) {
        if (prefix(w, minW, cut, 0, mass) < target) {
            return 0;
        }
        long c = 0;
        for (int b = 63; b >= 0; b--) {
            long trial = c | (1L << b);
            if (prefix(w, minW, cut, trial, mass) >= target) {
                c = trial;
            }
        }
        return c;
    }
}
