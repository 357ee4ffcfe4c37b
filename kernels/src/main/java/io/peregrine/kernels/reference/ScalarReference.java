package io.peregrine.kernels.reference;

import java.util.Arrays;

/**
 * Plain scalar Java twins of the CUDA kernels, accumulating in double: the CPU references the device check compares
 * against (the same math as the engine's scalar twins, spec §3). Arrays are row-major; BF16 values are raw
 * {@code short} bits. Slow on purpose: every line is the definition, nothing else.
 */
public final class ScalarReference {
    private ScalarReference() {}

    public static float bf16(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /** Round-to-nearest-even fp32 → bf16 bits (NaN stays NaN). */
    public static short toBf16(float f) {
        int b = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) 0x7fc0;
        }
        b += 0x7fff + ((b >>> 16) & 1);
        return (short) (b >>> 16);
    }

    public static float[] rmsNorm(float[] x, int rows, int dim, float[] w, float eps) {
        float[] out = new float[rows * dim];
        for (int t = 0; t < rows; t++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) {
                ss += (double) x[t * dim + i] * x[t * dim + i];
            }
            double inv = 1 / Math.sqrt(ss / dim + eps);
            for (int i = 0; i < dim; i++) {
                out[t * dim + i] = (float) (w[i] * (x[t * dim + i] * inv));
            }
        }
        return out;
    }

    /** Rotates pairs {@code (2i, 2i+1)} at {@code off} of every head of every token by {@code pos[t]·invFreq[i]}. */
    public static float[] ropeInterleaved(float[] x, int tokens, int heads, int headStride, int off, int[] pos,
                                          float[] invFreq, float mscale) {
        float[] y = x.clone();
        int tokStride = heads * headStride;
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < invFreq.length; i++) {
                    float ang = (float) pos[t] * invFreq[i];
                    double c = Math.cos(ang) * mscale;
                    double s = Math.sin(ang) * mscale;
                    int at = t * tokStride + h * headStride + off + 2 * i;
                    double a = x[at];
                    double b = x[at + 1];
                    y[at] = (float) (a * c - b * s);
                    y[at + 1] = (float) (a * s + b * c);
                }
            }
        }
        return y;
    }

    /** {@code out[r][i] = silu(gu[r][i]) · gu[r][inter + i]}. */
    public static float[] siluMul(float[] gu, int rows, int inter) {
        float[] out = new float[rows * inter];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < inter; i++) {
                double g = gu[r * 2 * inter + i];
                out[r * inter + i] = (float) (g / (1 + Math.exp(-g)) * gu[r * 2 * inter + inter + i]);
            }
        }
        return out;
    }

    public static float[] embedding(int[] ids, short[] table, int dim) {
        float[] out = new float[ids.length * dim];
        for (int t = 0; t < ids.length; t++) {
            for (int i = 0; i < dim; i++) {
                out[t * dim + i] = bf16(table[ids[t] * dim + i]);
            }
        }
        return out;
    }

    /** {@code y[t][r] = Σ_c W[r][c] · x[t][c]}. */
    public static float[] bf16Matmul(short[] w, int rows, int cols, float[] x, int n) {
        float[] y = new float[n * rows];
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int c = 0; c < cols; c++) {
                    s += (double) bf16(w[r * cols + c]) * x[t * cols + c];
                }
                y[t * rows + r] = (float) s;
            }
        }
        return y;
    }

    /** {@code y[c] = Σ_r x[r] · W[r][c]}. */
    public static float[] bf16MatmulTransposed(short[] w, int rows, int cols, float[] x) {
        double[] acc = new double[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                acc[c] += (double) x[r] * bf16(w[r * cols + c]);
            }
        }
        float[] y = new float[cols];
        for (int c = 0; c < cols; c++) {
            y[c] = (float) acc[c];
        }
        return y;
    }

    /** Dequantised INT4 group-32 product: {@code words [rows, cols/8]}, {@code scales [rows, cols/32]} bf16. */
    public static float[] int4Matmul(int[] words, short[] scales, int rows, int cols, float[] x, int n) {
        float[] y = new float[n * rows];
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int c = 0; c < cols; c++) {
                    int q = ((words[r * (cols / 8) + c / 8] >>> (4 * (c % 8))) & 0xF) - 8;
                    s += (double) q * bf16(scales[r * (cols / 32) + c / 32]) * x[t * cols + c];
                }
                y[t * rows + r] = (float) s;
            }
        }
        return y;
    }

    /**
     * Routing of spec §3.5 with {@code n_group = 1} and normalised weights. Returns {@code idx[t·k + j]} in choice
     * order and fills {@code weights} alike. NaN as the device kernel takes it: a NaN biased score ranks below every
     * number (ties to the lower index), a NaN score weighs 0.
     */
    public static int[] route(float[] logits, int tokens, int experts, float[] bias, int k, float scaling, float[] weights) {
        int[] idx = new int[tokens * k];
        for (int t = 0; t < tokens; t++) {
            double[] s = new double[experts];
            double[] b = new double[experts];
            for (int e = 0; e < experts; e++) {
                s[e] = 1 / (1 + Math.exp(-logits[t * experts + e]));
                b[e] = (float) s[e] + bias[e];
                b[e] = Double.isNaN(b[e]) ? Double.NEGATIVE_INFINITY : b[e];
                s[e] = Double.isNaN(s[e]) ? 0 : s[e];
            }
            boolean[] used = new boolean[experts];
            double sum = 0;
            for (int j = 0; j < k; j++) {
                int best = -1;
                for (int e = 0; e < experts; e++) {
                    if (!used[e] && (best < 0 || b[e] > b[best])) {
                        best = e;
                    }
                }
                used[best] = true;
                idx[t * k + j] = best;
                sum += s[best];
            }
            for (int j = 0; j < k; j++) {
                weights[t * k + j] = (float) (s[idx[t * k + j]] / (sum + 1e-20) * scaling);
            }
        }
        return idx;
    }

    /** {@code out[t] = shared[t] + Σ_j w[t][j] · expertOut[t][j]} with {@code expertOut[(t·k + j)·dim + d]}. */
    public static float[] combine(float[] expertOut, float[] w, int tokens, int k, float[] shared, int dim) {
        float[] out = new float[tokens * dim];
        for (int t = 0; t < tokens; t++) {
            for (int d = 0; d < dim; d++) {
                double s = shared == null ? 0 : shared[t * dim + d];
                for (int j = 0; j < k; j++) {
                    s += (double) w[t * k + j] * expertOut[(t * k + j) * dim + d];
                }
                out[t * dim + d] = (float) s;
            }
        }
        return out;
    }

    /**
     * {@code pg_moe_combine_held}: {@code out[t] = shared[t] + Σ w[t][j] · expertOut[t·k + j]} over the slots {@code j}
     * of token {@code t} whose expert {@code idx[t·k + j]} lies in {@code [first, first + held)} (a rank's experts),
     * added in ascending expert order as the CPU backend adds them; {@code shared} may be null.
     */
    public static float[] combineHeld(float[] expertOut, float[] w, int[] idx, int tokens, int k, int first, int held,
                                      float[] shared, int dim) {
        float[] out = new float[tokens * dim];
        for (int t = 0; t < tokens; t++) {
            Integer[] order = new Integer[k];
            for (int j = 0; j < k; j++) {
                order[j] = j;
            }
            int tok = t;
            java.util.Arrays.sort(order, (a, b) -> Integer.compare(idx[tok * k + a], idx[tok * k + b]));
            for (int d = 0; d < dim; d++) {
                double s = shared == null ? 0 : shared[t * dim + d];
                for (int j : order) {
                    int e = idx[t * k + j];
                    if (e >= first && e < first + held) {
                        s += (double) w[t * k + j] * expertOut[(t * k + j) * dim + d];
                    }
                }
                out[t * dim + d] = (float) s;
            }
        }
        return out;
    }

    /**
     * Absorbed MLA decode for one sequence and all heads over a paged bf16 latent cache of {@code width = kvRank +
     * rope}: slot of position s = {@code blockTable[s / page] · page + s % page}.
     */
    public static float[] mlaDecode(float[] qLat, float[] qPe, int heads, int kvRank, int rope, short[] cache,
                                    int[] blockTable, int page, int len, float scale) {
        int width = kvRank + rope;
        float[] out = new float[heads * kvRank];
        for (int h = 0; h < heads; h++) {
            double[] sc = new double[len];
            double max = Double.NEGATIVE_INFINITY;
            for (int s = 0; s < len; s++) {
                long slot = (long) blockTable[s / page] * page + s % page;
                double d = 0;
                for (int i = 0; i < kvRank; i++) {
                    d += (double) qLat[h * kvRank + i] * bf16(cache[(int) (slot * width + i)]);
                }
                for (int i = 0; i < rope; i++) {
                    d += (double) qPe[h * rope + i] * bf16(cache[(int) (slot * width + kvRank + i)]);
                }
                sc[s] = d * scale;
                max = Math.max(max, sc[s]);
            }
            double z = 0;
            double[] acc = new double[kvRank];
            for (int s = 0; s < len; s++) {
                long slot = (long) blockTable[s / page] * page + s % page;
                double p = Math.exp(sc[s] - max);
                z += p;
                for (int i = 0; i < kvRank; i++) {
                    acc[i] += p * bf16(cache[(int) (slot * width + i)]);
                }
            }
            for (int i = 0; i < kvRank; i++) {
                out[h * kvRank + i] = len == 0 ? 0f : (float) (acc[i] / z);
            }
        }
        return out;
    }

    /** Naive-form causal attention (Backend.attentionNaive's contract). */
    public static float[] mlaPrefill(float[] q, int tokens, int start, float[] kv, float[] kPe, int heads, int nope,
                                     int rope, int vDim, float scale) {
        float[] out = new float[tokens * heads * vDim];
        int qk = nope + rope;
        for (int t = 0; t < tokens; t++) {
            int last = start + t;
            for (int h = 0; h < heads; h++) {
                double[] sc = new double[last + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int s = 0; s <= last; s++) {
                    double d = 0;
                    for (int i = 0; i < nope; i++) {
                        d += (double) q[(t * heads + h) * qk + i] * kv[(s * heads + h) * (nope + vDim) + i];
                    }
                    for (int i = 0; i < rope; i++) {
                        d += (double) q[(t * heads + h) * qk + nope + i] * kPe[s * rope + i];
                    }
                    sc[s] = d * scale;
                    max = Math.max(max, sc[s]);
                }
                double z = 0;
                double[] acc = new double[vDim];
                for (int s = 0; s <= last; s++) {
                    double p = Math.exp(sc[s] - max);
                    z += p;
                    for (int i = 0; i < vDim; i++) {
                        acc[i] += p * kv[(s * heads + h) * (nope + vDim) + nope + i];
                    }
                }
                for (int i = 0; i < vDim; i++) {
                    out[(t * heads + h) * vDim + i] = (float) (acc[i] / z);
                }
            }
        }
        return out;
    }

    /** Lowest index of the maximum, NaN counting as -inf: a row without a number gives 0. */
    public static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (logit(x[off + i]) > logit(x[off + best])) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Top-p by its definition: sort probabilities descending, keep the shortest prefix whose mass reaches
     * {@code topP} (with every token tied to the last kept one), then pick, in index order, the first token whose
     * running kept mass exceeds {@code u} times the kept mass. NaN logits count as -inf (probability 0); a row whose
     * maximum is not finite (no number at all, or an infinity) has no softmax and gives its argmax.
     */
    public static int sampleTopP(float[] logits, int off, int vocab, float temperature, float topP, double u) {
        Nucleus n = nucleus(logits, off, vocab, temperature, topP);
        if (n == null) {
            return argmax(logits, off, vocab);
        }
        double target = u * n.kept();
        double run = 0;
        for (int i = 0; i < vocab; i++) {
            if (n.p()[i] >= n.threshold()) {
                run += n.p()[i];
                if (target < run) {
                    return i;
                }
            }
        }
        return argmax(logits, off, vocab);
    }

    /**
     * The share of the kept mass before and after {@code token} in index order, {@code [start, end)} in [0, 1]: the
     * draws {@code u} that select it. Null when the token is outside the nucleus. A device result in fp32 may pick a
     * neighbour when {@code u} lies within rounding of an end; the check accepts that and nothing wider.
     */
    public static double[] topPInterval(float[] logits, int off, int vocab, float temperature, float topP, int token) {
        Nucleus n = nucleus(logits, off, vocab, temperature, topP);
        if (n == null) {
            return token == argmax(logits, off, vocab) ? new double[] {0, 1} : null;
        }
        if (token < 0 || token >= vocab || n.p()[token] < n.threshold()) {
            return null;
        }
        double before = 0;
        for (int i = 0; i < token; i++) {
            if (n.p()[i] >= n.threshold()) {
                before += n.p()[i];
            }
        }
        return new double[] {before / n.kept(), (before + n.p()[token]) / n.kept()};
    }

    private record Nucleus(double[] p, double threshold, double kept) {}

    /** Null when the row's maximum is not finite. */
    private static Nucleus nucleus(float[] logits, int off, int vocab, float temperature, float topP) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, logit(logits[off + i]) / (double) temperature);
        }
        if (!Double.isFinite(max)) {
            return null;
        }
        double[] p = new double[vocab];
        double z = 0;
        for (int i = 0; i < vocab; i++) {
            p[i] = Math.exp(logit(logits[off + i]) / (double) temperature - max);
            z += p[i];
        }
        for (int i = 0; i < vocab; i++) {
            p[i] /= z;
        }
        double threshold = 0;
        if (topP < 1) {
            double[] sorted = p.clone();
            Arrays.sort(sorted);
            double cum = 0;
            for (int i = vocab - 1; i >= 0; i--) {
                cum += sorted[i];
                if (cum >= topP) {
                    threshold = sorted[i];
                    break;
                }
            }
        }
        double kept = 0;
        for (int i = 0; i < vocab; i++) {
            if (p[i] >= threshold) {
                kept += p[i];
            }
        }
        return new Nucleus(p, threshold, kept);
    }

    private static float logit(float v) {
        return Float.isNaN(v) ? Float.NEGATIVE_INFINITY : v;
    }

    /** {@code ‖out − ref‖ / ‖ref‖}; infinite when {@code out} has a NaN or infinity (a poisoned, unwritten element). */
    public static double relError(float[] out, float[] ref) {
        if (out.length != ref.length) {
            throw new IllegalArgumentException("lengths " + out.length + " vs " + ref.length);
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < out.length; i++) {
            if (!Float.isFinite(out[i])) {
                return Double.POSITIVE_INFINITY;
            }
            double d = (double) out[i] - ref[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        return den == 0 ? (num == 0 ? 0 : Double.POSITIVE_INFINITY) : Math.sqrt(num / den);
    }

    // ---- the vision tower (vision.cuh) -------------------------------------------------------------------------

    /** {@code nn.LayerNorm} of each row in double: biased variance, then {@code ⊙ w + b}. */
    public static float[] layerNorm(float[] x, int rows, int dim, float[] w, float[] b, float eps) {
        float[] out = new float[rows * dim];
        for (int t = 0; t < rows; t++) {
            double mean = 0;
            for (int i = 0; i < dim; i++) {
                mean += x[t * dim + i];
            }
            mean /= dim;
            double var = 0;
            for (int i = 0; i < dim; i++) {
                var += (x[t * dim + i] - mean) * (x[t * dim + i] - mean);
            }
            double inv = 1 / Math.sqrt(var / dim + eps);
            for (int i = 0; i < dim; i++) {
                out[t * dim + i] = (float) ((x[t * dim + i] - mean) * inv * w[i] + b[i]);
            }
        }
        return out;
    }

    /** GELU in double: {@code tanh} the approximation, else {@code 0.5·x·(1 + erf(x/√2))} with erf by Simpson's rule. */
    public static float[] gelu(float[] x, boolean tanh) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            double v = x[i];
            out[i] = (float) (tanh ? 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))
                    : 0.5 * v * (1 + erf(v / Math.sqrt(2))));
        }
        return out;
    }

    private static double erf(double x) {
        int panels = 2000;
        double h = x / panels;
        double sum = 1 + Math.exp(-x * x);
        for (int i = 1; i < panels; i++) {
            double t = i * h;
            sum += (i % 2 == 1 ? 4 : 2) * Math.exp(-t * t);
        }
        return 2 / Math.sqrt(Math.PI) * sum * h / 3;
    }

    /** Rows of {@code cols}; pairs {@code (2i, 2i+1)} of every head (stride {@code headStride}) times cos + j·sin of the row. */
    public static float[] rotatePairs(float[] x, int rows, int cols, int heads, int headStride, float[] cos,
                                      float[] sin, int pairs) {
        float[] y = x.clone();
        for (int t = 0; t < rows; t++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < pairs; i++) {
                    int at = t * cols + h * headStride + 2 * i;
                    double c = cos[t * pairs + i], s = sin[t * pairs + i];
                    y[at] = (float) (x[at] * c - x[at + 1] * s);
                    y[at + 1] = (float) (x[at] * s + x[at + 1] * c);
                }
            }
        }
        return y;
    }

    /**
     * Bidirectional attention inside segments, in double: q, k, v, out dense {@code [rows, heads·headDim]}; row t of
     * segment s attends to rows {@code seg[s] .. seg[s+1] − 1}.
     */
    public static float[] attentionSegments(float[] q, float[] k, float[] v, int heads, int headDim, int[] seg,
                                            float scale) {
        int cols = heads * headDim;
        float[] out = new float[q.length];
        for (int s = 0; s + 1 < seg.length; s++) {
            for (int t = seg[s]; t < seg[s + 1]; t++) {
                for (int h = 0; h < heads; h++) {
                    int len = seg[s + 1] - seg[s];
                    double[] p = new double[len];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < len; j++) {
                        double d = 0;
                        for (int c = 0; c < headDim; c++) {
                            d += (double) q[t * cols + h * headDim + c] * k[(seg[s] + j) * cols + h * headDim + c];
                        }
                        p[j] = d * scale;
                        max = Math.max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < len; j++) {
                        p[j] = Math.exp(p[j] - max);
                        sum += p[j];
                    }
                    for (int c = 0; c < headDim; c++) {
                        double acc = 0;
                        for (int j = 0; j < len; j++) {
                            acc += p[j] * v[(seg[s] + j) * cols + h * headDim + c];
                        }
                        out[t * cols + h * headDim + c] = (float) (acc / sum);
                    }
                }
            }
        }
        return out;
    }
}
