package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.MoeRouter;
import io.peregrine.kernels.layout.Int4ExpertStack;

/**
 * Typed launches of every kernel, with the argument checks the kernels rely on (alignment of 16-byte loads, the
 * fixed MLA dimensions). All activations fp32 row-major; BF16 weights raw bits; launches are asynchronous on the
 * context's stream, so a sequence of them can be captured into a CUDA graph unchanged.
 */
public final class DeviceOps {
    private final CudaContext ctx;

    public DeviceOps(CudaContext ctx) {
        this.ctx = ctx;
    }

    public CudaContext context() {
        return ctx;
    }

    static void require(boolean ok, String what) {
        if (!ok) {
            throw new IllegalArgumentException(what);
        }
    }

    public void rmsNorm(DeviceBuffer x, int xStride, int rows, int dim, DeviceBuffer weight, float eps, DeviceBuffer out, int outStride) {
        ctx.launch(KernelName.RMS_NORM, Geometries.perRow(rows, 256), x, xStride, weight, out, outStride, dim, eps);
    }

    public void ropeInterleaved(DeviceBuffer x, int tokens, int tokStride, int heads, int headStride, int off,
                                DeviceBuffer pos, DeviceBuffer invFreq, int pairs, float mscale) {
        ctx.launch(KernelName.ROPE_INTERLEAVED, Geometries.perRow(tokens, 128), x, tokStride, heads, headStride, off,
                pos, invFreq, pairs, mscale);
    }

    public void siluMul(DeviceBuffer gateUp, DeviceBuffer out, int rows, int inter) {
        ctx.launch(KernelName.SILU_MUL, Geometries.elementwise((long) rows * inter), gateUp, out, rows, inter);
    }

    public void embedding(DeviceBuffer ids, int tokens, DeviceBuffer table, int vocab, int dim, DeviceBuffer out) {
        require(dim % 8 == 0, "embedding dim " + dim + " is not a multiple of 8 (16-byte loads)");
        ctx.launch(KernelName.EMBEDDING_GATHER, Geometries.perRow(tokens, 128), ids, table, vocab, dim, out);
    }

    public void axpy(float a, DeviceBuffer x, DeviceBuffer y, int n) {
        ctx.launch(KernelName.AXPY, Geometries.elementwise(n), a, x, y, n);
    }

    /** Decode-sized BF16 product ({@code n} small); prefill sizes go to {@link #bf16Gemm}. */
    public void bf16Gemv(DeviceBuffer w, int rows, int cols, DeviceBuffer x, int xStride, int n, DeviceBuffer y, int yStride) {
        require(cols % 8 == 0 && xStride % 4 == 0, "bf16 gemv: cols " + cols + " % 8 and x stride " + xStride + " % 4 must be 0");
        ctx.launch(KernelName.BF16_GEMV, Geometries.bf16Gemv(rows), w, rows, cols, x, xStride, n, y, yStride, 0L, 0, 0);
    }

    /**
     * One product per head in one launch: head {@code h} uses the weight at {@code w + h·wHead} (elements), the
     * activations at {@code x + h·xHead} and writes {@code y + h·yHead}.
     */
    public void bf16GemvHeads(DeviceBuffer w, int rows, int cols, long wHead, DeviceBuffer x, int xStride, int xHead,
                              int n, DeviceBuffer y, int yStride, int yHead, int heads) {
        require(cols % 8 == 0 && xStride % 4 == 0 && xHead % 4 == 0, "bf16 gemv: cols % 8, x strides % 4 must be 0");
        LaunchGeometry g = Geometries.bf16Gemv(rows);
        ctx.launch(KernelName.BF16_GEMV, new LaunchGeometry(g.gridX(), heads, 1, g.block(), 0), w, rows, cols, x,
                xStride, n, y, yStride, wHead, xHead, yHead);
    }

    public void bf16GemvTransposed(DeviceBuffer w, int rows, int cols, DeviceBuffer x, DeviceBuffer y) {
        require(cols % 2 == 0, "transposed gemv: cols " + cols + " must be even");
        ctx.launch(KernelName.BF16_GEMV_T, Geometries.bf16GemvTransposed(cols), w, rows, cols, x, y, 0L, 0, 0, 0, 0);
    }

    /** The transposed product for every (head, token): weight band {@code w + h·wHead}, x at {@code h·xHead + t·xTok}. */
    public void bf16GemvTransposedHeads(DeviceBuffer w, int rows, int cols, long wHead, DeviceBuffer x, int xHead,
                                        int xTok, DeviceBuffer y, int yHead, int yTok, int heads, int tokens) {
        require(cols % 2 == 0, "transposed gemv: cols " + cols + " must be even");
        LaunchGeometry g = Geometries.bf16GemvTransposed(cols);
        ctx.launch(KernelName.BF16_GEMV_T, new LaunchGeometry(g.gridX(), heads, tokens, g.block(), 0), w, rows, cols,
                x, y, wHead, xHead, xTok, yHead, yTok);
    }

    public void bf16Gemm(DeviceBuffer w, int rows, int cols, DeviceBuffer x, int xStride, int n, DeviceBuffer y, int yStride) {
        require(cols % 32 == 0 && xStride % 4 == 0, "bf16 gemm: cols " + cols + " % 32 and x stride " + xStride + " % 4 must be 0");
        ctx.launch(KernelName.BF16_GEMM_MMA, Geometries.gemmMma(rows, n), w, rows, cols, x, xStride, n, y, yStride);
    }

    /**
     * Experimental: the same product on Hopper's warpgroup MMA (wgmma, sm_90a). Not yet verified on a device;
     * {@link #bf16Gemm} stays the product in use until the device check passes it.
     */
    public void bf16GemmWgmma(DeviceBuffer w, int rows, int cols, DeviceBuffer x, int xStride, int n, DeviceBuffer y, int yStride) {
        require(cols % 64 == 0 && xStride % 4 == 0, "wgmma gemm: cols " + cols + " % 64 and x stride " + xStride + " % 4 must be 0");
        ctx.launch(KernelName.BF16_GEMM_WGMMA, Geometries.gemmMma(rows, n), w, rows, cols, x, xStride, n, y, yStride);
    }

    /**
     * The engine's routing ({@link MoeRouter}, the CPU reference) on the device, for {@code tokens} rows of router
     * logits: top-k indices and weights per token. The kernel takes the top-k over all experts, which is
     * {@code MoeRouter} when every group is kept ({@code topk_group = n_group}; Kimi K2.5 has 1 and 1); a
     * group-limited config is refused here rather than computed wrong.
     */
    public void router(DeviceBuffer logits, int tokens, MoeRouter config, DeviceBuffer bias, DeviceBuffer topkIdx,
                       DeviceBuffer topkW) {
        checkRouter(config);
        // MoeRouter normalises only when asked and top-k > 1 (one weight alone stays the raw score)
        int normalise = config.normTopkProb() && config.topK() > 1 ? 1 : 0;
        ctx.launch(KernelName.MOE_ROUTER, Geometries.router(tokens, config.experts()), logits, bias, config.experts(),
                config.topK(), config.scaling(), normalise, topkIdx, topkW);
    }

    /** The router configs the device kernel computes as {@link MoeRouter#route} does; anything else throws. */
    public static void checkRouter(MoeRouter config) {
        require(config.topkGroup() == config.nGroup(), "the CUDA router implements top-k over all experts"
                + " (topk_group = n_group, as Kimi K2.5's 1 and 1); this model keeps topk_group " + config.topkGroup()
                + " of n_group " + config.nGroup() + " groups: group-limited routing runs on the CPU backend only");
        require(config.topK() <= 64, "the CUDA router keeps at most 64 experts per token; this model asks for "
                + config.topK());
    }

    /** Outputs as in {@code pg_moe_permute}; {@code active} holds E ints, {@code nActive} one. */
    public void permute(DeviceBuffer topkIdx, int assignments, int k, int experts, DeviceBuffer offsets,
                        DeviceBuffer permToken, DeviceBuffer srcPos, DeviceBuffer active, DeviceBuffer nActive) {
        ctx.launch(KernelName.MOE_PERMUTE, Geometries.permute(experts), topkIdx, assignments, k, experts, offsets,
                permToken, srcPos, active, nActive);
    }

    public void int4GroupedGemv(Int4ExpertStack s, DeviceBuffer words, DeviceBuffer scales, DeviceBuffer active,
                                DeviceBuffer nActive, DeviceBuffer offsets, DeviceBuffer x, int xStride,
                                Object rowToken, DeviceBuffer y, int yStride, int tokens, int k) {
        require(xStride % 4 == 0, "grouped gemv: x stride " + xStride + " % 4 must be 0");
        ctx.launch(KernelName.INT4_GROUPED_GEMV, Geometries.int4GroupedGemv(s.rows(), tokens, k, s.experts()), words,
                scales, s.vectorsPerExpert(), s.scalesPerExpert(), s.rows(), s.cols(), active, nActive, offsets, x,
                xStride, rowToken, y, yStride);
    }

    public void int4GroupedGemm(Int4ExpertStack s, DeviceBuffer words, DeviceBuffer scales, int tiles,
                                DeviceBuffer tileExpert, DeviceBuffer tileRow0, DeviceBuffer tileRows, DeviceBuffer x,
                                int xStride, Object rowToken, DeviceBuffer y, int yStride) {
        require(xStride % 4 == 0, "grouped gemm: x stride " + xStride + " % 4 must be 0");
        ctx.launch(KernelName.INT4_GROUPED_GEMM_MMA, Geometries.int4GroupedGemm(s.rows(), tiles), words, scales,
                s.vectorsPerExpert(), s.scalesPerExpert(), s.rows(), s.cols(), tileExpert, tileRow0, tileRows, x,
                xStride, rowToken, y, yStride);
    }

    /** Experimental wgmma twin of {@link #int4GroupedGemm} (sm_90a); cols % 64 == 0. */
    public void int4GroupedGemmWgmma(Int4ExpertStack s, DeviceBuffer words, DeviceBuffer scales, int tiles,
                                     DeviceBuffer tileExpert, DeviceBuffer tileRow0, DeviceBuffer tileRows,
                                     DeviceBuffer x, int xStride, Object rowToken, DeviceBuffer y, int yStride) {
        require(s.cols() % 64 == 0 && xStride % 4 == 0, "wgmma grouped gemm: cols " + s.cols() + " % 64 and x stride "
                + xStride + " % 4 must be 0");
        ctx.launch(KernelName.INT4_GROUPED_GEMM_WGMMA, Geometries.int4GroupedGemm(s.rows(), tiles), words, scales,
                s.vectorsPerExpert(), s.scalesPerExpert(), s.rows(), s.cols(), tileExpert, tileRow0, tileRows, x,
                xStride, rowToken, y, yStride);
    }

    public void combine(DeviceBuffer yPerm, int yStride, DeviceBuffer srcPos, DeviceBuffer topkW, int k,
                        Object shared, DeviceBuffer out, int tokens, int dim) {
        ctx.launch(KernelName.MOE_COMBINE, Geometries.perRow(tokens, 256), yPerm, yStride, srcPos, topkW, k, shared, out, dim);
    }

    // ---- a layer's routed experts through their address table (moe_experts.cuh, CudaBackend.moe) -------------

    /** Writes expert {@code e}'s weight addresses ({@code pointers}, at most 6) into its column of {@code table}. */
    public void expertTableSet(DeviceBuffer table, int e, int held, DeviceBuffer... pointers) {
        require(pointers.length <= 6 && e >= 0 && e < held, "expert table: expert " + e + " of " + held + ", "
                + pointers.length + " addresses");
        Object[] args = new Object[10];
        args[0] = table;
        args[1] = e;
        args[2] = held;
        args[3] = pointers.length;
        for (int j = 0; j < 6; j++) {
            args[4 + j] = j < pointers.length ? pointers[j] : KernelArgs.NULL;
        }
        ctx.launch(KernelName.EXPERT_TABLE_SET, LaunchGeometry.of(1, 32), args);
    }

    /**
     * The grouped GEMV of the held experts' weight sets {@code set0 .. set0 + sets - 1} (0 gate, 1 up, 2 down), set
     * {@code z} writing {@code y + z·ySet}: sized for {@code tokens · k} assignments over {@code experts} layer-wide
     * experts, whatever the routing.
     */
    public void moeExpertGemv(boolean int4, DeviceBuffer table, int held, int first, int set0, int sets, int rows,
                              int cols, DeviceBuffer active, DeviceBuffer nActive, DeviceBuffer offsets, DeviceBuffer x,
                              int xStride, Object rowToken, DeviceBuffer y, int yStride, int ySet, int tokens, int k,
                              int experts) {
        require(xStride % 4 == 0 && cols % (int4 ? 32 : 8) == 0, "expert gemv: cols " + cols + " % " + (int4 ? 32 : 8)
                + " and x stride " + xStride + " % 4 must be 0");
        LaunchGeometry g = Geometries.int4GroupedGemv(rows, tokens, k, experts);
        ctx.launch(int4 ? KernelName.MOE_INT4_GEMV : KernelName.MOE_BF16_GEMV,
                new LaunchGeometry(g.gridX(), g.gridY(), sets, g.block(), 0), table, held, first, set0, rows, cols,
                active, nActive, offsets, x, xStride, rowToken, y, yStride, ySet);
    }

    /** {@code pg_moe_combine_held}: the held experts' outputs onto the shared expert's, in expert order. */
    public void combineHeld(DeviceBuffer yPerm, int yStride, DeviceBuffer srcPos, DeviceBuffer topkIdx,
                            DeviceBuffer topkW, int k, int first, int held, Object shared, int sharedStride,
                            DeviceBuffer out, int outStride, int tokens, int dim) {
        require(k <= 64, "the combine keeps at most 64 experts per token, got " + k);
        ctx.launch(KernelName.MOE_COMBINE_HELD, Geometries.perRow(tokens, 256), yPerm, yStride, srcPos, topkIdx, topkW,
                k, first, held, shared, sharedStride, out, outStride, dim);
    }

    public void mlaCacheWrite(DeviceBuffer ckv, int ckvStride, DeviceBuffer kpe, int kpeStride, DeviceBuffer slots,
                              int tokens, DeviceBuffer cache) {
        ctx.launch(KernelName.MLA_CACHE_WRITE, Geometries.perRow(tokens, 128), ckv, ckvStride, kpe, kpeStride, slots, cache);
    }

    /**
     * Absorbed decode over the paged cache; {@code partMl}/{@code partAcc} sized by the plan. A plan from
     * {@link Geometries#mlaDecodeMma} runs the tensor-core partial kernel, one from {@link Geometries#mlaDecode} the
     * fp32 one; both share the combine.
     */
    public void mlaDecode(Geometries.MlaDecodePlan plan, DeviceBuffer qLat, DeviceBuffer qPe, int qPeHeadStride, int heads,
                          DeviceBuffer cache, DeviceBuffer blockTable, int maxBlocks, int page, DeviceBuffer seqLens,
                          float scale, DeviceBuffer partMl, DeviceBuffer partAcc, DeviceBuffer outLat) {
        require(page > 0 && maxBlocks > 0, "mla decode: page " + page + " and max blocks " + maxBlocks + " must be positive");
        KernelName partial = plan.tensorCores() ? KernelName.MLA_DECODE_PARTIAL_MMA : KernelName.MLA_DECODE_PARTIAL;
        ctx.launch(partial, plan.partial(), qLat, qPe, qPeHeadStride, heads, cache, blockTable, maxBlocks, page,
                seqLens, plan.splitLen(), scale, partMl, partAcc);
        ctx.launch(KernelName.MLA_DECODE_COMBINE, plan.combine(), partMl, partAcc, heads, plan.splits(), outLat);
    }

    public void mlaPrefill(DeviceBuffer q, int tokens, DeviceBuffer kv, DeviceBuffer kpe, int heads, int nope, int rope,
                           int vDim, int start, float scale, DeviceBuffer out) {
        require(nope + rope <= 512 && vDim <= 256, "prefill attention: q/k dim " + (nope + rope) + " <= 512, v dim " + vDim + " <= 256");
        ctx.launch(KernelName.MLA_PREFILL_ATTENTION, Geometries.mlaPrefill(tokens, heads), q, kv, kpe, heads, nope,
                rope, vDim, start, scale, out);
    }

    /**
     * Absorbed attention of one query over {@code count} fp32 latents {@code lat[count][kvRank + rope]} (any widths;
     * the engine-facing {@link CudaBackend} path), writing {@code outLat[heads][kvRank]}.
     */
    /**
     * Absorbed MLA attention for {@code rows} decode rows in one launch: row {@code t} attends to the slab rows
     * {@code slots[starts[t] .. starts[t+1])}, read where they lie (nothing gathered or sized on the host).
     */
    public void mlaAbsorbedF32(DeviceBuffer qLat, int qLatStride, DeviceBuffer qPe, int qPeRowStride, int qPeHeadStride,
                               int heads, int kvRank, int rope, DeviceBuffer slab, int slabStride, DeviceBuffer slots,
                               DeviceBuffer starts, int rows, float scale, DeviceBuffer outLat, int outStride) {
        require(heads >= 1 && kvRank >= 1 && rope >= 0 && rows >= 1 && rows <= LaunchGeometry.MAX_GRID_YZ,
                "absorbed attention: heads " + heads + ", kv rank " + kvRank + ", rope " + rope + ", rows " + rows);
        LaunchGeometry g = Geometries.mlaAbsorbedF32(heads, kvRank, rope);
        ctx.launch(KernelName.MLA_ABSORBED_F32, new LaunchGeometry(g.gridX(), rows, 1, g.block(), g.sharedBytes()),
                qLat, qLatStride, qPe, qPeRowStride, qPeHeadStride, kvRank, rope, slab, slabStride, slots, starts, scale,
                outLat, outStride);
    }

    public void argmax(DeviceBuffer logits, int rows, int vocab, DeviceBuffer out) {
        require(vocab >= 1, "argmax over an empty vocabulary");
        ctx.launch(KernelName.ARGMAX, Geometries.perRow(rows, 1024), logits, vocab, out);
    }

    public void sampleTopP(DeviceBuffer logits, int rows, int vocab, float temperature, float topP, DeviceBuffer u, DeviceBuffer out) {
        require(vocab >= 1, "top-p sampling over an empty vocabulary");
        require(temperature > 0 && topP > 0 && topP <= 1, "top-p sampling: temperature " + temperature + " > 0, top_p " + topP + " in (0, 1]");
        ctx.launch(KernelName.SAMPLE_TOP_P, Geometries.perRow(rows, 1024), logits, vocab, temperature, topP, u, out);
    }

    // ---- row moves and strided element-wise ops over backend-owned tensors (rows.cuh) -------------------------

    /** {@code dst[i] = src[rows[i]]} for {@code n} rows of {@code cols}. */
    public void gatherRows(DeviceBuffer src, int srcStride, DeviceBuffer rows, int n, DeviceBuffer dst, int dstStride,
                           int cols) {
        ctx.launch(KernelName.GATHER_ROWS, Geometries.perRow(n, 128), src, srcStride, rows, dst, dstStride, cols);
    }

    /** {@code dst[rows[i]] = src[i]} for {@code n} rows of {@code cols}. */
    public void scatterRows(DeviceBuffer src, int srcStride, DeviceBuffer rows, int n, DeviceBuffer dst, int dstStride,
                            int cols) {
        ctx.launch(KernelName.SCATTER_ROWS, Geometries.perRow(n, 128), src, srcStride, rows, dst, dstStride, cols);
    }

    /** {@code dst[rows[i]] += scale[i] · src[i]}, in order of {@code i}. */
    public void scatterAddScaled(DeviceBuffer src, int srcStride, DeviceBuffer rows, DeviceBuffer scale, int n,
                                 DeviceBuffer dst, int dstStride, int cols) {
        ctx.launch(KernelName.SCATTER_ADD_SCALED, LaunchGeometry.of((cols + 127) / 128, 128), src, srcStride, rows,
                scale, n, dst, dstStride, cols);
    }

    /** {@code out = silu(gate) ⊙ up} over {@code rows} strided rows. */
    public void siluMulRows(DeviceBuffer gate, int gStride, DeviceBuffer up, int uStride, DeviceBuffer out, int oStride,
                            int rows, int cols) {
        ctx.launch(KernelName.SILU_MUL_ROWS, Geometries.perRow(rows, 256), gate, gStride, up, uStride, out, oStride, cols);
    }

    /** {@code y += x} over {@code rows} strided rows. */
    public void addRows(DeviceBuffer x, int xStride, DeviceBuffer y, int yStride, int rows, int cols) {
        ctx.launch(KernelName.ADD_ROWS, Geometries.perRow(rows, 256), x, xStride, y, yStride, cols);
    }

    /**
     * The backend's sampler ({@code pg_sample_rows}): {@code rows} sampling rows, {@link #SAMPLE_PARAMS} doubles each
     * in {@code params}; {@code masks}, {@code counts} and {@code weights} may be {@link KernelArgs#NULL} when no row
     * is constrained, penalised or random. {@code out}: ids[rows], logprob bits[rows], then per row {@code maxTop}
     * alternative ids and {@code maxTop} logprob bits.
     */
    public void sampleRows(DeviceBuffer logits, int stride, int vocab, int rows, DeviceBuffer params, Object masks,
                           int maskWords, Object counts, Object weights, int maxTop, DeviceBuffer out) {
        require(rows > 0 && vocab > 0 && stride >= vocab, "sample_rows: " + rows + " rows of " + vocab + ", stride " + stride);
        ctx.launch(KernelName.SAMPLE_ROWS, LaunchGeometry.of(rows, 1024), logits, stride, vocab, rows, params, masks,
                maskWords, counts, weights, maxTop, out);
    }

    /** Doubles per sampling row: logits row, counts slot, mask row, top logprobs, top_k, T, top_p, min_p, presence, frequency, repetition, draw. */
    public static final int SAMPLE_PARAMS = 12;

    // ---- the vision tower (vision.cuh) ------------------------------------------------------------------------

    public void layerNorm(DeviceBuffer x, int xStride, int rows, int dim, DeviceBuffer weight, DeviceBuffer bias,
                          float eps, DeviceBuffer out, int outStride) {
        ctx.launch(KernelName.LAYER_NORM, Geometries.perRow(rows, 256), x, xStride, weight, bias, out, outStride, dim, eps);
    }

    public void addBiasRows(DeviceBuffer bias, DeviceBuffer y, int yStride, int rows, int cols) {
        ctx.launch(KernelName.ADD_BIAS_ROWS, Geometries.perRow(rows, 256), bias, y, yStride, cols);
    }

    /** {@code form}: 0 the tanh approximation, 1 the exact erf form. */
    public void geluRows(DeviceBuffer x, int xStride, DeviceBuffer out, int outStride, int rows, int cols, int form) {
        ctx.launch(KernelName.GELU_ROWS, Geometries.perRow(rows, 256), x, xStride, out, outStride, cols, form);
    }

    public void rotatePairs(DeviceBuffer x, int xStride, int rows, int heads, int headStride, DeviceBuffer cos,
                            int cosStride, DeviceBuffer sin, int sinStride, int pairs) {
        ctx.launch(KernelName.ROTATE_PAIRS, Geometries.perRow(rows, 128), x, xStride, heads, headStride, cos, cosStride,
                sin, sinStride, pairs);
    }

    /** The head sizes the segment attention is compiled for. */
    public static KernelName attentionSegmentsKernel(int headDim) {
        return switch (headDim) {
            case 16 -> KernelName.ATTENTION_SEGMENTS_D16;
            case 72 -> KernelName.ATTENTION_SEGMENTS_D72;
            default -> throw new IllegalArgumentException("segment attention is compiled for head sizes 16 and 72"
                    + " (the tiny golden model, K2.5's MoonViT); this tower has " + headDim);
        };
    }

    public void attentionSegments(DeviceBuffer q, int qStride, DeviceBuffer k, int kStride, DeviceBuffer v,
                                  int vStride, int heads, int headDim, DeviceBuffer segments, int segmentCount,
                                  int longest, float scale, DeviceBuffer out, int outStride) {
        ctx.launch(attentionSegmentsKernel(headDim), Geometries.attentionSegments(longest, heads, segmentCount), q,
                qStride, k, kStride, v, vStride, segments, scale, out, outStride);
    }
}
