package io.peregrine.engine.model;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.CheckpointException;
import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The Kimi K2.5 / DeepSeek-V3 text decoder (spec §3) over a {@link Backend}: embedding, MLA + (dense | MoE)
 * layers, final norm, untied lm_head. All tokens of a batch go through each projection together; attention
 * runs per slice, in the naive form when a slice brings several tokens and the absorbed form for a single
 * decode token. Activations are fp32; weights stay as stored.
 */
public final class KimiTextModel implements LanguageModel {
    /** HF builds q_a/kv_a norms with the class default eps, not the config's (golden README §3). */
    static final float LATENT_NORM_EPS = 1e-6f;

    private final TextConfig cfg;
    private final Backend backend;
    private final Tensor embedding;
    private final List<LayerWeights> layers;
    private final float[] finalNorm;
    private final LinearWeight lmHead;
    private final YarnRope rope;
    private final MoeRouter router;

    private KimiTextModel(TextConfig cfg, Backend backend, Tensor embedding, List<LayerWeights> layers, float[] finalNorm,
                          LinearWeight lmHead) {
        this.cfg = cfg;
        this.backend = backend;
        this.embedding = embedding;
        this.layers = layers;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.rope = YarnRope.of(cfg);
        this.router = cfg.nRoutedExperts() > 0
                ? new MoeRouter(cfg.nRoutedExperts(), cfg.nGroup(), cfg.topkGroup(), cfg.numExpertsPerTok(),
                        cfg.normTopkProb(), (float) cfg.routedScalingFactor())
                : null;
    }

    /** Binds the checkpoint's text weights to the backend (BF16 in place, INT4 repacked once). */
    public static KimiTextModel load(Checkpoint ck, Backend backend) {
        return load(ck, backend, p -> { });
    }

    /**
     * {@link #load(Checkpoint, Backend)}, telling {@code progress} after each layer and once more when the lm_head
     * is bound ({@code bytesDone == bytesTotal}).
     */
    public static KimiTextModel load(Checkpoint ck, Backend backend, Consumer<WeightProgress> progress) {
        TextConfig c = ck.config().text();
        if (c.nRoutedExperts() > 0 && !"sigmoid".equals(c.scoringFunc())) {
            throw new CheckpointException("scoring_func '" + c.scoringFunc() + "' is not supported (sigmoid only)");
        }
        String root = ck.has("language_model.model.embed_tokens.weight") ? "language_model." : "";
        String m = root + "model.";
        Tensor embed = ck.tensor(m + "embed_tokens.weight");
        if (embed.dtype() != DType.BF16 || embed.rank() != 2 || embed.dim(0) != c.vocabSize() || embed.dim(1) != c.hiddenSize()) {
            throw new CheckpointException("embed_tokens.weight: expected BF16[" + c.vocabSize() + ", " + c.hiddenSize()
                    + "], got " + embed);
        }
        TextWeightBytes sizes = TextWeightBytes.of(ck, root, c.numHiddenLayers());
        long start = System.nanoTime();
        long bytesDone = 0;
        List<LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            String p = m + "layers." + l + ".";
            LayerWeights.Attention attn = attention(ck, backend, p + "self_attn.", c);
            LayerWeights.FeedForward ffn;
            if (c.isMoeLayer(l)) {
                String g = p + "mlp.gate.";
                List<LayerWeights.Dense> experts = new ArrayList<>();
                for (int e = 0; e < c.nRoutedExperts(); e++) {
                    experts.add(mlp(ck, backend, p + "mlp.experts." + e + ".", c.hiddenSize(), c.moeIntermediateSize()));
                }
                LayerWeights.Dense shared = c.nSharedExperts() > 0
                        ? mlp(ck, backend, p + "mlp.shared_experts.", c.hiddenSize(), c.moeIntermediateSize() * c.nSharedExperts())
                        : null;
                ffn = new LayerWeights.Moe(linear(ck, backend, g.substring(0, g.length() - 1), c.nRoutedExperts(), c.hiddenSize()),
                        vector(ck, g + "e_score_correction_bias", c.nRoutedExperts()), List.copyOf(experts), shared);
            } else {
                ffn = mlp(ck, backend, p + "mlp.", c.hiddenSize(), c.intermediateSize());
            }
            layers.add(new LayerWeights(vector(ck, p + "input_layernorm.weight", c.hiddenSize()),
                    vector(ck, p + "post_attention_layernorm.weight", c.hiddenSize()), attn, ffn));
            bytesDone += sizes.layer(l);
            progress.accept(new WeightProgress(l + 1, c.numHiddenLayers(), bytesDone, sizes.total(), System.nanoTime() - start));
        }
        String head = c.tieWordEmbeddings() ? m + "embed_tokens" : root + "lm_head";
        KimiTextModel model = new KimiTextModel(c, backend, embed, List.copyOf(layers),
                vector(ck, m + "norm.weight", c.hiddenSize()), linear(ck, backend, head, c.vocabSize(), c.hiddenSize()));
        progress.accept(new WeightProgress(c.numHiddenLayers(), c.numHiddenLayers(), sizes.total(), sizes.total(),
                System.nanoTime() - start));
        return model;
    }

    private static LayerWeights.Attention attention(Checkpoint ck, Backend b, String a, TextConfig c) {
        int qRows = c.numAttentionHeads() * c.qkHeadDim();
        boolean lora = c.qLoraRank() > 0;
        return new LayerWeights.Attention(
                lora ? null : linear(ck, b, a + "q_proj", qRows, c.hiddenSize()),
                lora ? linear(ck, b, a + "q_a_proj", c.qLoraRank(), c.hiddenSize()) : null,
                lora ? vector(ck, a + "q_a_layernorm.weight", c.qLoraRank()) : null,
                lora ? linear(ck, b, a + "q_b_proj", qRows, c.qLoraRank()) : null,
                linear(ck, b, a + "kv_a_proj_with_mqa", c.kvCacheWidth(), c.hiddenSize()),
                vector(ck, a + "kv_a_layernorm.weight", c.kvLoraRank()),
                linear(ck, b, a + "kv_b_proj", c.numAttentionHeads() * (c.qkNopeHeadDim() + c.vHeadDim()), c.kvLoraRank()),
                linear(ck, b, a + "o_proj", c.hiddenSize(), c.numAttentionHeads() * c.vHeadDim()));
    }

    private static LayerWeights.Dense mlp(Checkpoint ck, Backend b, String p, int hidden, int inter) {
        return new LayerWeights.Dense(linear(ck, b, p + "gate_proj", inter, hidden), linear(ck, b, p + "up_proj", inter, hidden),
                linear(ck, b, p + "down_proj", hidden, inter));
    }

    /** A BF16 {@code module.weight} or a pack-quantized {@code module.weight_packed}, checked against the config's shape. */
    private static LinearWeight linear(Checkpoint ck, Backend b, String module, int rows, int cols) {
        LinearWeight w;
        if (ck.has(module + ".weight_packed")) {
            w = b.upload(Int4Group32.of(ck, module));
        } else {
            w = b.upload(ck.tensor(module + ".weight"));
        }
        if (w.rows() != rows || w.cols() != cols) {
            throw new CheckpointException(module + ": shape [" + w.rows() + ", " + w.cols() + "], config implies ["
                    + rows + ", " + cols + "]");
        }
        return w;
    }

    private static float[] vector(Checkpoint ck, String name, int len) {
        Tensor t = ck.tensor(name);
        if (t.numel() != len) {
            throw new CheckpointException(name + ": " + t.numel() + " values, config implies " + len);
        }
        return t.toFloatArray();
    }

    @Override
    public TextConfig config() {
        return cfg;
    }

    public Backend backend() {
        return backend;
    }

    @Override
    public List<float[][]> forward(List<SequenceSlice> batch, LatentCache cache) {
        return forward(batch, cache, ForwardTrace.NONE);
    }

    /** {@link #forward(List, LatentCache)} reporting intermediate activations to {@code trace}. */
    public List<float[][]> forward(List<SequenceSlice> batch, LatentCache cache, ForwardTrace trace) {
        checkCache(cache);
        int d = cfg.hiddenSize();
        int n = 0;
        int[] first = new int[batch.size()];
        for (int i = 0; i < batch.size(); i++) {
            SequenceSlice s = batch.get(i);
            first[i] = n;
            n += s.tokens().length;
            if ((long) s.blockTable().length * cache.blockSize() < s.endPos()) {
                throw new IllegalArgumentException("slice " + i + ": block table of " + s.blockTable().length
                        + " blocks covers " + (long) s.blockTable().length * cache.blockSize() + " positions, needs " + s.endPos());
            }
            for (int blk : s.blockTable()) {
                if (blk < 0 || blk >= cache.numBlocks()) {
                    throw new IllegalArgumentException("slice " + i + ": block " + blk + " outside the cache's " + cache.numBlocks());
                }
            }
        }
        int[] pos = new int[n];
        int[] slot = new int[n];
        float[] h = new float[n * d];
        for (int i = 0; i < batch.size(); i++) {
            SequenceSlice s = batch.get(i);
            for (int t = 0; t < s.tokens().length; t++) {
                int row = first[i] + t;
                pos[row] = s.startPos() + t;
                slot[row] = cache.slot(s.blockTable(), pos[row]);
                float[] override = s.inputEmbedding(t);
                if (override == null) {
                    embed(s.tokens()[t], h, row * d);
                } else if (override.length != d) {
                    throw new IllegalArgumentException("slice " + i + ": input embedding of position " + pos[row]
                            + " has " + override.length + " values, hidden size is " + d);
                } else {
                    System.arraycopy(override, 0, h, row * d, d);
                }
            }
        }
        float[] xn = new float[n * d];
        float eps = (float) cfg.rmsNormEps();
        for (int l = 0; l < layers.size(); l++) {
            LayerWeights lw = layers.get(l);
            String tag = "layer" + l + ".";
            trace.record(tag + "input", h, n, d);
            backend.rmsNorm(h, 0, d, n, d, lw.inputNorm(), eps, xn, 0, d);
            trace.record(tag + "input_layernorm_out", xn, n, d);
            float[] attn = attention(l, lw.attention(), xn, n, batch, first, pos, slot, cache, trace);
            trace.record(tag + "self_attn_out", attn, n, d);
            backend.axpy(1f, attn, 0, h, 0, n * d);
            backend.rmsNorm(h, 0, d, n, d, lw.postAttentionNorm(), eps, xn, 0, d);
            trace.record(tag + "post_attention_layernorm_out", xn, n, d);
            float[] ffn = switch (lw.feedForward()) {
                case LayerWeights.Dense dense -> swiglu(dense, xn, n);
                case LayerWeights.Moe moe -> moe(l, moe, xn, n, trace);
            };
            trace.record(tag + "mlp_out", ffn, n, d);
            backend.axpy(1f, ffn, 0, h, 0, n * d);
            trace.record(tag + "output", h, n, d);
        }
        return logits(batch, first, h, n, trace);
    }

    private void embed(int id, float[] out, int off) {
        if (id < 0 || id >= cfg.vocabSize()) {
            throw new IllegalArgumentException("token id " + id + " outside the vocabulary 0.." + (cfg.vocabSize() - 1));
        }
        int d = cfg.hiddenSize();
        long base = (long) id * d;
        for (int c = 0; c < d; c++) {
            out[off + c] = Float.intBitsToFloat(embedding.data().getAtIndex(Tensor.BF16, base + c) << 16);
        }
    }

    private float[] attention(int l, LayerWeights.Attention w, float[] xn, int n, List<SequenceSlice> batch, int[] first,
                              int[] pos, int[] slot, LatentCache cache, ForwardTrace trace) {
        int heads = cfg.numAttentionHeads();
        int nope = cfg.qkNopeHeadDim();
        int ropeDim = cfg.qkRopeHeadDim();
        int qk = nope + ropeDim;
        int vDim = cfg.vHeadDim();
        int rank = cfg.kvLoraRank();
        int width = cache.width();
        String tag = "layer" + l + ".attn.";

        float[] q = new float[n * heads * qk];
        float[] kva = new float[n * width];
        if (w.q() != null) {
            backend.matmulAll(new LinearWeight[] {w.q(), w.kvA()}, new float[][] {xn, xn}, new int[] {n, n},
                    new float[][] {q, kva});
        } else {
            float[] cq = new float[n * cfg.qLoraRank()];
            backend.matmulAll(new LinearWeight[] {w.qA(), w.kvA()}, new float[][] {xn, xn}, new int[] {n, n},
                    new float[][] {cq, kva});
            backend.rmsNorm(cq, 0, cfg.qLoraRank(), n, cfg.qLoraRank(), w.qANorm(), LATENT_NORM_EPS, cq, 0, cfg.qLoraRank());
            trace.record(tag + "q_a_layernorm_out", cq, n, cfg.qLoraRank());
            backend.matmul(w.qB(), cq, n, q);
        }
        trace.record(tag + "q_b_proj_out", q, n, heads * qk);
        trace.record(tag + "kv_a_proj_with_mqa_out", kva, n, width);
        float[] slab = cache.slab(l);
        float[] latent = new float[width];
        float[] normed = trace == ForwardTrace.NONE ? null : new float[n * rank];
        for (int t = 0; t < n; t++) {
            backend.rmsNorm(kva, t * width, width, 1, rank, w.kvANorm(), LATENT_NORM_EPS, latent, 0, width);
            System.arraycopy(kva, t * width + rank, latent, rank, ropeDim);
            backend.ropeInterleaved(latent, rank, pos[t], rope.invFreq(), rope.cosSinScale());
            cache.write(l, slot[t], latent, 0);
            if (normed != null) {
                System.arraycopy(latent, 0, normed, t * rank, rank);
            }
            for (int hd = 0; hd < heads; hd++) {
                backend.ropeInterleaved(q, (t * heads + hd) * qk + nope, pos[t], rope.invFreq(), rope.cosSinScale());
            }
        }
        if (normed != null) {
            trace.record(tag + "kv_a_layernorm_out", normed, n, rank);
        }

        float[] o = new float[n * heads * vDim];
        for (int i = 0; i < batch.size(); i++) {
            SequenceSlice s = batch.get(i);
            int[] slots = new int[s.endPos()];
            for (int p = 0; p < slots.length; p++) {
                slots[p] = cache.slot(s.blockTable(), p);
            }
            if (s.tokens().length == 1) {
                absorbed(w, q, first[i], slots, slots.length, slab, o);
            } else if (!backend.batchInvariant() && absorbedIsCheaper(s.tokens().length, s.startPos())) {
                // A short chunk deep into a long prompt (the scheduler's attention budget makes them): the naive
                // form would expand every earlier position's keys and values again for a handful of queries.
                for (int t = 0; t < s.tokens().length; t++) {
                    absorbed(w, q, first[i] + t, slots, s.startPos() + t + 1, slab, o);
                }
            } else {
                naive(w, q, first[i], s, slots, slab, o, trace, tag);
            }
        }
        float[] out = new float[n * cfg.hiddenSize()];
        backend.matmul(w.o(), o, n, out);
        return out;
    }

    /**
     * Multiply-adds of a chunk of {@code n} tokens after {@code start} in each form: the naive one expands the
     * latents of all {@code start + n} positions through kv_b_proj, then attends per head in (qk, v) space; the
     * absorbed one folds kv_b_proj into each query and output (n · heads · rank · (nope + v)) and attends in the
     * latent space (rank twice, plus rope). Deep into a prompt and for few tokens the absorbed form is far cheaper.
     */
    private boolean absorbedIsCheaper(int n, int start) {
        long heads = cfg.numAttentionHeads();
        long rank = cfg.kvLoraRank();
        long nope = cfg.qkNopeHeadDim();
        long v = cfg.vHeadDim();
        long pairs = (long) n * start + (long) n * (n + 1) / 2;
        long naive = (start + n) * rank * heads * (nope + v) + pairs * heads * (cfg.qkHeadDim() + v);
        long absorbed = n * heads * rank * (nope + v) + pairs * heads * (2 * rank + cfg.qkRopeHeadDim());
        return absorbed < naive;
    }

    /**
     * Decode form: attention in the latent space, W_UK folded into the query and W_UV applied after. The query at
     * {@code row} attends to the first {@code count} positions of {@code slots} (its own included).
     */
    private void absorbed(LayerWeights.Attention w, float[] q, int row, int[] slots, int count, float[] slab,
                          float[] o) {
        int heads = cfg.numAttentionHeads();
        int nope = cfg.qkNopeHeadDim();
        int qk = cfg.qkHeadDim();
        int vDim = cfg.vHeadDim();
        int rank = cfg.kvLoraRank();
        int perHead = nope + vDim;
        float[] qLat = new float[heads * rank];
        backend.matmulHeads(w.kvB(), true, heads, perHead, 0, nope, q, row * heads * qk, qk, qLat, 0, rank);
        float[] oLat = new float[heads * rank];
        backend.attentionAbsorbed(qLat, 0, q, row * heads * qk + nope, qk, heads, rank, cfg.qkRopeHeadDim(), slab, slots,
                count, rope.softmaxScale(), oLat, 0);
        backend.matmulHeads(w.kvB(), false, heads, perHead, nope, vDim, oLat, 0, rank, o, row * heads * vDim, vDim);
    }

    /** Prefill form: per-head keys and values expanded from the cached latents of every position so far. */
    private void naive(LayerWeights.Attention w, float[] q, int row, SequenceSlice s, int[] slots, float[] slab, float[] o,
                       ForwardTrace trace, String tag) {
        int heads = cfg.numAttentionHeads();
        int qk = cfg.qkHeadDim();
        int vDim = cfg.vHeadDim();
        int rank = cfg.kvLoraRank();
        int ropeDim = cfg.qkRopeHeadDim();
        int width = rank + ropeDim;
        int positions = slots.length;
        float[] latents = new float[positions * rank];
        float[] kPe = new float[positions * ropeDim];
        for (int p = 0; p < positions; p++) {
            System.arraycopy(slab, slots[p] * width, latents, p * rank, rank);
            System.arraycopy(slab, slots[p] * width + rank, kPe, p * ropeDim, ropeDim);
        }
        int kvWidth = heads * (cfg.qkNopeHeadDim() + vDim);
        float[] kv = new float[positions * kvWidth];
        backend.matmul(w.kvB(), latents, positions, kv);
        if (s.startPos() == 0) {
            trace.record(tag + "kv_b_proj_out", kv, positions, kvWidth);
        }
        int tokens = s.tokens().length;
        float[] qs = new float[tokens * heads * qk];
        System.arraycopy(q, row * heads * qk, qs, 0, qs.length);
        float[] os = new float[tokens * heads * vDim];
        backend.attentionNaive(qs, tokens, s.startPos(), kv, kPe, heads, cfg.qkNopeHeadDim(), ropeDim, vDim,
                rope.softmaxScale(), os);
        System.arraycopy(os, 0, o, row * heads * vDim, os.length);
    }

    private float[] swiglu(LayerWeights.Dense mlp, float[] x, int n) {
        int inter = mlp.gate().rows();
        float[] g = new float[n * inter];
        float[] u = new float[n * inter];
        backend.matmulAll(new LinearWeight[] {mlp.gate(), mlp.up()}, new float[][] {x, x}, new int[] {n, n},
                new float[][] {g, u});
        backend.siluMul(g, u, g, n * inter);
        float[] out = new float[n * mlp.down().rows()];
        backend.matmul(mlp.down(), g, n, out);
        return out;
    }

    private float[] moe(int l, LayerWeights.Moe moe, float[] xn, int n, ForwardTrace trace) {
        int d = cfg.hiddenSize();
        int experts = cfg.nRoutedExperts();
        int k = cfg.numExpertsPerTok();
        float[] logits = new float[n * experts];
        backend.matmul(moe.router(), xn, n, logits);
        int[] idx = new int[n * k];
        float[] weight = new float[n * k];
        int[] idxT = new int[k];
        float[] wT = new float[k];
        int[] count = new int[experts];
        for (int t = 0; t < n; t++) {
            router.route(logits, t * experts, moe.correctionBias(), idxT, wT);
            System.arraycopy(idxT, 0, idx, t * k, k);
            System.arraycopy(wT, 0, weight, t * k, k);
            for (int e : idxT) {
                count[e]++;
            }
        }
        if (trace != ForwardTrace.NONE) {
            float[] fi = new float[n * k];
            for (int i = 0; i < fi.length; i++) {
                fi[i] = idx[i];
            }
            trace.record("layer" + l + ".router.topk_idx", fi, n, k);
            trace.record("layer" + l + ".router.topk_weight", weight, n, k);
        }
        // Every active expert (and the shared one) as two parallel regions: all gate/up products, then all downs.
        List<LayerWeights.Dense> mlps = new ArrayList<>();
        List<float[]> inputs = new ArrayList<>();
        List<int[]> tokenRows = new ArrayList<>();
        List<float[]> tokenWeights = new ArrayList<>();
        if (moe.shared() != null) {
            mlps.add(moe.shared());
            inputs.add(xn);
            tokenRows.add(null);
            tokenWeights.add(null);
        }
        for (int e = 0; e < experts; e++) {
            if (count[e] == 0) {
                continue;
            }
            int[] rows = new int[count[e]];
            float[] rowWeight = new float[count[e]];
            int m = 0;
            for (int i = 0; i < n * k; i++) {
                if (idx[i] == e) {
                    rows[m] = i / k;
                    rowWeight[m++] = weight[i];
                }
            }
            float[] xe = new float[m * d];
            for (int j = 0; j < m; j++) {
                System.arraycopy(xn, rows[j] * d, xe, j * d, d);
            }
            mlps.add(moe.experts().get(e));
            inputs.add(xe);
            tokenRows.add(rows);
            tokenWeights.add(rowWeight);
        }
        int a = mlps.size();
        LinearWeight[] gateUp = new LinearWeight[2 * a];
        float[][] gateUpIn = new float[2 * a][];
        int[] gateUpN = new int[2 * a];
        float[][] gateUpOut = new float[2 * a][];
        LinearWeight[] down = new LinearWeight[a];
        int[] downN = new int[a];
        float[][] downOut = new float[a][];
        for (int i = 0; i < a; i++) {
            LayerWeights.Dense mlp = mlps.get(i);
            int m = inputs.get(i).length / d;
            gateUp[2 * i] = mlp.gate();
            gateUp[2 * i + 1] = mlp.up();
            gateUpIn[2 * i] = inputs.get(i);
            gateUpIn[2 * i + 1] = inputs.get(i);
            gateUpN[2 * i] = m;
            gateUpN[2 * i + 1] = m;
            gateUpOut[2 * i] = new float[m * mlp.gate().rows()];
            gateUpOut[2 * i + 1] = new float[m * mlp.up().rows()];
            down[i] = mlp.down();
            downN[i] = m;
            downOut[i] = new float[m * d];
        }
        backend.matmulAll(gateUp, gateUpIn, gateUpN, gateUpOut);
        float[][] act = new float[a][];
        for (int i = 0; i < a; i++) {
            act[i] = gateUpOut[2 * i];
            backend.siluMul(act[i], gateUpOut[2 * i + 1], act[i], act[i].length);
        }
        backend.matmulAll(down, act, downN, downOut);
        float[] out = new float[n * d];
        for (int i = 0; i < a; i++) {
            int[] rows = tokenRows.get(i);
            if (rows == null) {
                backend.axpy(1f, downOut[i], 0, out, 0, n * d);
                continue;
            }
            float[] rowWeight = tokenWeights.get(i);
            for (int j = 0; j < rows.length; j++) {
                backend.axpy(rowWeight[j], downOut[i], j * d, out, rows[j] * d, d);
            }
        }
        return out;
    }

    private List<float[][]> logits(List<SequenceSlice> batch, int[] first, float[] h, int n, ForwardTrace trace) {
        int d = cfg.hiddenSize();
        int vocab = cfg.vocabSize();
        int wanted = 0;
        for (SequenceSlice s : batch) {
            wanted += s.allLogits() ? s.tokens().length : 1;
        }
        float[] rows = new float[wanted * d];
        int r = 0;
        for (int i = 0; i < batch.size(); i++) {
            SequenceSlice s = batch.get(i);
            int from = s.allLogits() ? first[i] : first[i] + s.tokens().length - 1;
            int len = s.allLogits() ? s.tokens().length : 1;
            backend.rmsNorm(h, from * d, d, len, d, finalNorm, (float) cfg.rmsNormEps(), rows, r * d, d);
            r += len;
        }
        if (wanted == n) {
            trace.record("final_norm_out", rows, n, d);
        }
        float[] all = new float[wanted * vocab];
        backend.matmul(lmHead, rows, wanted, all);
        List<float[][]> out = new ArrayList<>(batch.size());
        r = 0;
        for (SequenceSlice s : batch) {
            int len = s.allLogits() ? s.tokens().length : 1;
            float[][] l = new float[len][];
            for (int j = 0; j < len; j++) {
                l[j] = java.util.Arrays.copyOfRange(all, (r + j) * vocab, (r + j + 1) * vocab);
            }
            r += len;
            out.add(l);
        }
        return out;
    }

    private void checkCache(LatentCache cache) {
        if (cache.layers() != cfg.numHiddenLayers() || cache.width() != cfg.kvCacheWidth()) {
            throw new IllegalArgumentException("cache has " + cache.layers() + " layers of width " + cache.width()
                    + ", model needs " + cfg.numHiddenLayers() + " of " + cfg.kvCacheWidth());
        }
    }
}
