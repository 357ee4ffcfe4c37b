package io.peregrine.engine.backend;

import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;

/**
 * The compute seam between the model and the hardware. The model code is written once against this
 * interface; the CPU backend (the reference) and the CUDA backend (module {@code kernels}) implement it.
 * A backend owns native resources (thread pools, device memory), hence {@link AutoCloseable}.
 *
 * <p>Activations are fp32, row-major: a matrix of {@code n} rows is {@code float[]} with row {@code t} at
 * {@code off + t * stride}. Weights are used as stored (BF16, INT4 group-32); a backend may repack them once
 * when they are uploaded.
 */
public interface Backend extends AutoCloseable {

    /** A short name for logs and metrics, e.g. {@code cpu} or {@code cuda:0}. */
    String name();

    @Override
    void close();

    /**
     * Whether a token's results must not depend on the batch around it ({@code --batch-invariant}): the model then
     * keeps one attention form per phase whatever the chunking.
     */
    default boolean batchInvariant() {
        return false;
    }

    /** A 2-D BF16 (or F32) tensor {@code [rows, cols]} as a linear weight. */
    LinearWeight upload(Tensor weight);

    /** A pack-quantized INT4 group-32 weight. */
    LinearWeight upload(Int4Group32 weight);

    /**
     * {@code y[t][r] = Σ_c W[row0 + r, c] · x[t][c]} for {@code r < rows}, {@code t < n}: rows
     * {@code row0 .. row0+rows-1} of {@code W} times each activation row.
     */
    void matmul(LinearWeight w, int row0, int rows, float[] x, int xOff, int xStride, int n,
                float[] y, int yOff, int yStride);

    /** {@code y[n][W.rows] = x[n][W.cols] · Wᵀ}, activations packed densely. */
    default void matmul(LinearWeight w, float[] x, int n, float[] y) {
        matmul(w, 0, w.rows(), x, 0, w.cols(), n, y, 0, w.rows());
    }

    /**
     * Independent products {@code ys[i][ns[i]][ws[i].rows] = xs[i][ns[i]][ws[i].cols] · ws[i]ᵀ}, which a backend
     * may run as one parallel region (a decode step has ~35 small products per layer; one fork/join each would
     * cost as much as the weight streaming).
     */
    default void matmulAll(LinearWeight[] ws, float[][] xs, int[] ns, float[][] ys) {
        checkMatmulAll(ws, xs, ns, ys);
        for (int i = 0; i < ws.length; i++) {
            matmul(ws[i], xs[i], ns[i], ys[i]);
        }
    }

    /** The argument check every {@link #matmulAll} implementation starts with: one input, count and output per weight. */
    static void checkMatmulAll(LinearWeight[] ws, float[][] xs, int[] ns, float[][] ys) {
        int k = ws.length;
        if (xs.length != k || ns.length != k || ys.length != k) {
            throw new IllegalArgumentException("matmulAll: " + k + " weights but " + xs.length + " inputs, " + ns.length
                    + " counts, " + ys.length + " outputs");
        }
    }

    /**
     * The transposed product over a row band: {@code y[c] = Σ_r x[r] · W[row0 + r, c]} for all columns
     * (MLA's absorbed query: {@code q_nope · W_UK}).
     */
    void matmulTransposed(LinearWeight w, int row0, int rows, float[] x, int xOff, float[] y, int yOff);

    /**
     * Per-head products with a head-blocked weight (MLA's {@code kv_b_proj}: head {@code h} owns rows
     * {@code h·headRows ..}), one token: for every head {@code h < heads},
     * <ul>
     * <li>{@code transposed == false}: {@code y[yOff + h·yStride + r] = Σ_c W[h·headRows + row0 + r, c] · x[xOff + h·xStride + c]}
     *     for {@code r < rows} (W_UV applied to the attention output);</li>
     * <li>{@code transposed == true}: {@code y[yOff + h·yStride + c] = Σ_r x[xOff + h·xStride + r] · W[h·headRows + row0 + r, c]}
     *     for every column {@code c} (the query absorbed through W_UK).</li>
     * </ul>
     * Heads are independent, so a backend runs them in parallel.
     */
    default void matmulHeads(LinearWeight w, boolean transposed, int heads, int headRows, int row0, int rows,
                             float[] x, int xOff, int xStride, float[] y, int yOff, int yStride) {
        for (int h = 0; h < heads; h++) {
            if (transposed) {
                matmulTransposed(w, h * headRows + row0, rows, x, xOff + h * xStride, y, yOff + h * yStride);
            } else {
                matmul(w, h * headRows + row0, rows, x, xOff + h * xStride, w.cols(), 1, y, yOff + h * yStride, rows);
            }
        }
    }

    /** RMSNorm of {@code n} rows of {@code dim}: {@code out = weight ⊙ x / sqrt(mean(x²) + eps)}, fp32 statistics. */
    void rmsNorm(float[] x, int xOff, int xStride, int n, int dim, float[] weight, float eps,
                 float[] out, int outOff, int outStride);

    /**
     * Rotates {@code invFreq.length} interleaved pairs {@code (x[2i], x[2i+1])} at {@code off} by
     * {@code pos · invFreq[i]} (GPT-J / DeepSeek layout), scaling cos and sin by {@code mscale}.
     */
    void ropeInterleaved(float[] x, int off, int pos, float[] invFreq, float mscale);

    /** {@code out[i] = silu(gate[i]) · up[i]} for {@code len} elements. */
    void siluMul(float[] gate, float[] up, float[] out, int len);

    /** {@code y[i] += a · x[i]} for {@code len} elements. */
    void axpy(float a, float[] x, int xOff, float[] y, int yOff, int len);

    /**
     * MLA attention in the naive (prefill) form: queries {@code q[t][h][nope + rope]} of {@code tokens} new
     * tokens at positions {@code startPos + t}, keys/values for positions {@code 0 .. startPos + tokens - 1}:
     * {@code kv[s][h][nope + vDim]} (per-head k_nope then v) and the shared {@code kPe[s][rope]}. Causal
     * softmax in fp32; writes {@code out[t][h][vDim]}.
     */
    void attentionNaive(float[] q, int tokens, int startPos, float[] kv, float[] kPe, int heads, int nope,
                        int rope, int vDim, float scale, float[] out);

    /**
     * MLA attention in the absorbed (decode) form for one query over {@code count} cached positions, read from
     * a latent cache slab of {@code width = kvRank + rope}: {@code score_h(s) = (qLat_h · c_kv(s) + qPe_h ·
     * k_pe(s)) · scale}, softmax over s, {@code outLat_h = Σ p · c_kv(s)}. {@code qLat[h][kvRank]},
     * {@code qPe[h][rope]} at the given offsets; {@code slots[s]} is the cache slot of position s.
     */
    void attentionAbsorbed(float[] qLat, int qLatOff, float[] qPe, int qPeOff, int qPeStride, int heads,
                           int kvRank, int rope, float[] slab, int[] slots, int count, float scale,
                           float[] outLat, int outOff);
}
