package io.peregrine.engine.backend;

import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.sample.SamplingBatch;
import java.util.List;

/**
 * The compute seam between the model and the hardware. The model code is written once against this interface; the
 * CPU backend (the reference) and the CUDA backend (module {@code kernels}) implement it. A backend owns native
 * resources (thread pools, device memory), hence {@link AutoCloseable}.
 *
 * <p>Every operation takes and writes {@link Activation}s and {@link Indices} the backend allocated
 * ({@link TensorMemory}): activations are fp32, one token per row. Weights are used as stored (BF16, INT4 group-32);
 * a backend may repack them once when they are uploaded. Nothing crosses to the host unless the caller copies it.
 */
public interface Backend extends TensorMemory, AutoCloseable {

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

    /** A 2-D BF16 tensor {@code [rows, cols]} as a linear weight (also the embedding table). */
    LinearWeight upload(Tensor weight);

    /** A pack-quantized INT4 group-32 weight. */
    LinearWeight upload(Int4Group32 weight);

    /**
     * An INT4 weight uploaded for a while, until {@link #release}: a host expert streamed to the primary for one long
     * prefill chunk (issue 20, docs/hybrid.md). A backend that keeps every upload until {@link #close} says so.
     */
    default LinearWeight uploadTransient(Int4Group32 weight) {
        throw new UnsupportedOperationException(name() + " keeps every weight until it closes");
    }

    /** Frees a weight from {@link #uploadTransient} once the products queued on it are done. */
    default void release(LinearWeight weight) {
        throw new UnsupportedOperationException(name() + " keeps every weight until it closes");
    }

    // ---- products -------------------------------------------------------------------------------------------

    /**
     * {@code y[t][r] = Σ_c W[row0 + r, c] · x[t][c]} for {@code r < y.cols()}, {@code t < x.rows()}: a band of rows of
     * {@code W} times each activation row.
     */
    void matmul(LinearWeight w, int row0, Activation x, Activation y);

    /** {@code y = x · Wᵀ}. */
    default void matmul(LinearWeight w, Activation x, Activation y) {
        matmul(w, 0, x, y);
    }

    /**
     * Independent products, which a backend may run as one parallel region (a decode step has ~35 small products per
     * layer; one fork/join each would cost as much as the weight streaming).
     */
    default void matmulAll(List<Product> products) {
        for (Product p : products) {
            matmul(p.w(), p.x(), p.y());
        }
    }

    /**
     * Per-head products with a head-blocked weight (MLA's {@code kv_b_proj}: head {@code h} owns rows
     * {@code h·headRows ..}): for every token {@code t} and head {@code h < heads},
     * {@code y[t][h·rows + r] = Σ_c W[h·headRows + row0 + r, c] · x[t][h·W.cols + c]} for {@code r < rows}
     * (W_UV applied to the latent attention output).
     */
    void matmulHeads(LinearWeight w, int heads, int headRows, int row0, int rows, Activation x, Activation y);

    /**
     * The transposed per-head product: {@code y[t][h·W.cols + c] = Σ_r x[t][h·xHeadStride + r] · W[h·headRows + row0 + r, c]}
     * for {@code r < rows} and every column {@code c} (the query absorbed through W_UK).
     */
    void matmulHeadsTransposed(LinearWeight w, int heads, int headRows, int row0, int rows, Activation x,
                               int xHeadStride, Activation y);

    // ---- row-wise and element-wise --------------------------------------------------------------------------

    /** RMSNorm of each row: {@code out = weight ⊙ x / sqrt(mean(x²) + eps)}, fp32 statistics; may run in place. */
    void rmsNorm(Activation x, Activation weight, float eps, Activation out);

    /**
     * Rotates, in every row {@code t} and for every head {@code h < heads}, the {@code invFreq.cols()} interleaved pairs
     * starting at column {@code h·headStride} by {@code positions[t] · invFreq[i]} (GPT-J / DeepSeek layout), cos and
     * sin scaled by {@code mscale}.
     */
    void ropeInterleaved(Activation x, int heads, int headStride, Indices positions, Activation invFreq, float mscale);

    /** {@code out = silu(gate) ⊙ up}. */
    void siluMul(Activation gate, Activation up, Activation out);

    /** {@code y += x}. */
    void add(Activation x, Activation y);

    /** {@code out[t] = table[ids[t]]}: BF16 embedding rows widened to fp32. */
    void embed(LinearWeight table, Indices ids, Activation out);

    /** {@code dst[i] = src[rows[i]]}. */
    void gatherRows(Activation src, Indices rows, Activation dst);

    /** {@code dst[rows[i]] = src[i]} (the latent cache write). */
    void scatterRows(Activation src, Indices rows, Activation dst);

    /** {@code dst[rows[i]] += scale[i] · src[i]}, in order of {@code i} (the MoE combine). */
    void scatterAddScaled(Activation src, Indices rows, Activation scale, Activation dst);

    // ---- mixture of experts ---------------------------------------------------------------------------------

    /**
     * This rank's routed experts of one MoE layer, experts {@code firstExpert ..} in order ({@code gate}, {@code up},
     * {@code down} one entry per expert, weights this backend uploaded), as one {@link ExpertStack} for {@link #moe}.
     * Nothing is copied: the stack refers to the experts' weights where they lie.
     */
    ExpertStack stackExperts(int firstExpert, List<LinearWeight> gate, List<LinearWeight> up, List<LinearWeight> down);

    /** {@link #moe}'s working memory for up to {@code tokens} tokens of MoE layers shaped like {@code block}. */
    MoeScratch moeScratch(MoeBlock block, int tokens);

    /**
     * A whole MoE block (spec §3.3) with its routing decided here, never on the host: for every token {@code t} of
     * {@code x}, the router picks {@code k} experts from {@code routerLogits[t]} and the block's bias
     * ({@link MoeRouter}'s rule and tie order), and
     * {@code out[t] = shared(x[t]) + Σ w_{t,e} · expert_e(x[t])} over the chosen experts {@code e} that
     * {@code block.experts()} holds, added in ascending expert order onto the shared expert's output (zero without
     * one). {@code scratch} keeps the routing ({@link MoeScratch#chosen}). The work a call issues depends only on the
     * token count and the block's shapes, never on which experts were chosen, so a device can capture it in a graph.
     */
    void moe(MoeBlock block, Activation x, Activation routerLogits, MoeScratch scratch, Activation out);

    // ---- attention ------------------------------------------------------------------------------------------

    /**
     * MLA attention in the naive (prefill) form for one sequence: queries {@code q[t][h][nope + rope]} of
     * {@code q.rows()} new tokens at positions {@code startPos + t}, keys and values of positions
     * {@code 0 .. startPos + q.rows() - 1}: {@code kv[s][h][nope + vDim]} (per-head k_nope then v) and the shared
     * {@code kPe[s][rope]}. Causal softmax in fp32; writes {@code out[t][h][vDim]}.
     */
    void attentionNaive(Activation q, int startPos, Activation kv, Activation kPe, int heads, int nope, int rope,
                        int vDim, float scale, Activation out);

    /**
     * MLA attention in the absorbed (decode) form, one query per row {@code t} over the cached latents of its
     * sequence: slab rows {@code slots[starts[t]] .. slots[starts[t+1] - 1]} of width {@code kvRank + rope}.
     * {@code score_h(s) = (qLat_h · c_kv(s) + qPe_h · k_pe(s)) · scale}, softmax over s,
     * {@code outLat_h = Σ p · c_kv(s)}; {@code qLat[t][h·kvRank ..]}, {@code qPe[t][h·qPeHeadStride ..]}.
     */
    void attentionAbsorbed(Activation qLat, Activation qPe, int qPeHeadStride, int heads, Activation slab,
                           Indices slots, Indices starts, float scale, Activation outLat);

    // ---- the vision tower (MoonViT-3D, issue 24) ---------------------------------------------------------------

    /**
     * LayerNorm of each row: {@code out = (x − mean) / sqrt(var + eps) ⊙ weight + bias}, biased variance, fp32
     * statistics ({@code nn.LayerNorm}); weight and bias are {@code [1, x.cols]}; may run in place.
     */
    void layerNorm(Activation x, Activation weight, Activation bias, float eps, Activation out);

    /** {@code y[t] += bias} for every row {@code t}: a linear layer's bias, {@code bias [1, y.cols]}. */
    void addBias(Activation bias, Activation y);

    /** {@code out = gelu(x)} in the given form, element-wise; may run in place. */
    void gelu(Activation x, Gelu form, Activation out);

    /**
     * Rotates, in every row {@code t} and for every head {@code h < heads}, the interleaved pairs
     * {@code (x[c + 2i], x[c + 2i + 1])}, {@code c = h·headStride}, {@code i < cos.cols()}, by the angle whose cosine
     * and sine are {@code cos[t][i]} and {@code sin[t][i]} (a complex multiply, {@code view_as_complex}): rotary
     * embeddings whose angles are not one position times a frequency (the ViT's 2-D RoPE).
     */
    void rotatePairs(Activation x, int heads, int headStride, Activation cos, Activation sin);

    /**
     * Bidirectional attention inside segments ({@code cu_seqlens}): rows {@code segments[s] .. segments[s+1] − 1}
     * attend to each other and to no other row. {@code q, k, v, out} are {@code [rows, heads·headDim]} (views of a
     * packed qkv are fine); {@code softmax(q_h·k_hᵀ·scale)·v_h} with fp32 scores. Segments cover all rows in order.
     */
    void attentionSegments(Activation q, Activation k, Activation v, int heads, Indices segments, float scale,
                           Activation out);

    // ---- sampling -------------------------------------------------------------------------------------------

    /** A new sequence's token counts for the penalties (prompt tokens seen, no output yet), kept here. */
    TokenCounts tokenCounts(int[] prompt, int promptLength);

    /**
     * Samples every row of {@code batch} from its row of {@code logits} (penalties from and into the row's counts,
     * its constraint's bitmask, its draw) and writes back the sampled ids and the requested logprobs, which are
     * of the masked logits before penalties and temperature (OpenAI's and vLLM's default).
     */
    void sample(Activation logits, SamplingBatch batch);
}
