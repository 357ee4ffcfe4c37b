package io.peregrine.engine.model;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.Indices;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.MoeScratch;
import io.peregrine.engine.backend.Product;
import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.dist.SingleRank;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.shard.ShardingPlan;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The Kimi K2.5 / DeepSeek-V3 text decoder (spec §3) over a {@link Backend}: embedding, MLA + (dense | MoE) layers,
 * final norm, untied lm_head. A step's inputs are flattened once ({@link StepInputs}) and uploaded into the
 * workspace of its batch-size bucket ({@link Workspace}); every layer then runs on backend tensors, all tokens of the
 * batch through each projection together. Attention runs in the absorbed form for the decode slices and the short
 * prefill chunks deep into a prompt, every such row over its own causal context in one call, and in the naive form
 * per other prefill slice (the choice is {@link StepInputs}'). A MoE layer is one backend operation that routes where
 * it computes ({@link Backend#moe}); only a layer whose experts are split between two backends routes on the host.
 *
 * <p>Sharded ({@link TextShard}, docs/parallelism.md), a rank runs the same code on its part of the weights: its
 * heads, its slice of each MLP, its routed experts, its vocabulary band. The partial results meet in the
 * communicator's all-reduce after the embedding, after {@code o_proj} and after each MLP/MoE, and the logits' bands
 * in one all-gather, so every rank ends the step with the whole logits. A group of one is the same code with
 * {@link SingleRank}, whose collectives do nothing.
 */
public final class KimiTextModel implements LanguageModel {
    /** HF builds q_a/kv_a norms with the class default eps, not the config's (golden README §3). */
    static final float LATENT_NORM_EPS = 1e-6f;

    private final TextConfig cfg;
    private final Backend backend;
    private final KimiWeights weights;
    private final TextShard shard;
    private final ActivationCollectives collectives;
    private final YarnRope rope;
    private final Activation invFreq;
    private final StepInputs inputs;
    /** Workspace of bucket {@code b} holds up to {@code 2^b} tokens. */
    private final Workspace[] workspaces = new Workspace[32];
    private final List<Product> products = new ArrayList<>();
    /** Which routed experts run on the host backend (none unless loaded with a host). */
    private final ExpertPlacement placement;
    /** The MoE layers over two backends when the placement puts experts on the host (issue 20), else null. */
    private final HybridMoe hybrid;
    private final HybridStats hybridStats = new HybridStats();
    /** Whether the workspaces need the host-routing buffers ({@link HybridMoe}); the other layers run {@link Backend#moe}. */
    private final boolean hostRouting;

    private KimiTextModel(TextConfig cfg, Backend backend, KimiWeights weights, TextShard shard, Communicator comm,
                          ExpertPlacement placement, Backend host, Checkpoint ck, ExpertStreaming streaming) {
        if (comm.size() != shard.ranks() || comm.rank() != shard.rank()) {
            throw new IllegalArgumentException("communicator rank " + comm.rank() + " of " + comm.size()
                    + " for shard " + shard.rank() + " of " + shard.ranks());
        }
        this.cfg = cfg;
        this.backend = backend;
        this.weights = weights;
        this.shard = shard;
        this.collectives = new ActivationCollectives(comm, backend);
        this.rope = YarnRope.of(cfg);
        this.invFreq = backend.vector(rope.invFreq());
        this.inputs = new StepInputs(cfg, backend.batchInvariant());
        this.placement = placement;
        this.hybrid = placement.usesHost()
                ? new HybridMoe(cfg, backend, host, ck, placement, streaming, shard.moeInter(), hybridStats) : null;
        this.hostRouting = hybrid != null;
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
        return load(ck, backend, TextShard.of(new ShardingPlan(ck.config(), 1, false), 0), new SingleRank(), progress);
    }

    /**
     * One rank of a sharded model: binds only {@code shard}'s part of each weight and runs each step's collectives
     * on {@code comm}, which every rank of the group calls in the same order.
     */
    public static KimiTextModel load(Checkpoint ck, Backend backend, TextShard shard, Communicator comm,
                                     Consumer<WeightProgress> progress) {
        return new KimiTextModel(ck.config().text(), backend, KimiWeights.load(ck, backend, shard, progress), shard,
                comm, ExpertPlacement.primary(ck.config().text()), backend, ck, ExpertStreaming.NEVER);
    }

    /**
     * A model of one rank over two backends (issue 20): everything on {@code primary} except the routed experts
     * {@code placement} puts on {@code host}, which {@code host} keeps and computes. Each MoE layer copies the rows
     * routed to host experts out to the host and their outputs back; the results are the one-backend model's.
     * The caller owns and closes both backends.
     */
    public static KimiTextModel load(Checkpoint ck, Backend primary, Backend host, ExpertPlacement placement,
                                     Consumer<WeightProgress> progress) {
        return load(ck, primary, host, placement, ExpertStreaming.NEVER, progress);
    }

    /**
     * As above, streaming a host expert's weights to the primary for a step when {@code streaming} finds that cheaper
     * for its row count (long prefill chunks; {@link ExpertStreaming#calibrate} measures the costs).
     */
    public static KimiTextModel load(Checkpoint ck, Backend primary, Backend host, ExpertPlacement placement,
                                     ExpertStreaming streaming, Consumer<WeightProgress> progress) {
        TextShard shard = TextShard.of(new ShardingPlan(ck.config(), 1, false), 0);
        if (placement.host().size() != ck.config().text().numHiddenLayers()) {
            throw new IllegalArgumentException("placement for " + placement.host().size() + " layers, the model has "
                    + ck.config().text().numHiddenLayers());
        }
        return new KimiTextModel(ck.config().text(), primary,
                KimiWeights.load(ck, primary, host, placement, shard, progress), shard, new SingleRank(), placement,
                host, ck, streaming);
    }

    public ExpertPlacement placement() {
        return placement;
    }

    /** Copies, timings and streaming choices of the MoE layers over two backends (all zero without a host). */
    public HybridStats hybridStats() {
        return hybridStats;
    }

    /** Rows routed to each expert since load, counted where the routing is on the host; null without a host. */
    public ExpertPlacement.RoutingHistogram routingHistogram() {
        return hybrid == null ? null : hybrid.histogram();
    }

    @Override
    public TextConfig config() {
        return cfg;
    }

    public Backend backend() {
        return backend;
    }

    public TextShard shard() {
        return shard;
    }

    /** Checkpoint bytes this rank's weights span (the whole text model for a group of one). */
    public long weightBytesRead() {
        return weights.bytesRead();
    }

    /** Time this rank has spent in its step's collectives (waiting for the slowest rank included), and their count. */
    public CollectiveTime collectiveTime() {
        return collectives.time();
    }

    /** A latent cache in the backend's memory, where the layers read and write it in place. */
    public LatentCache newCache(int blocks, int blockSize) {
        return new LatentCache(backend, cfg.numHiddenLayers(), blocks, blockSize, cfg.kvCacheWidth());
    }

    @Override
    public List<float[][]> forward(List<SequenceSlice> batch, LatentCache cache) {
        return forward(batch, cache, ForwardTrace.NONE);
    }

    /** {@link #forward(List, LatentCache)} reporting intermediate activations to {@code trace}. */
    public List<float[][]> forward(List<SequenceSlice> batch, LatentCache cache, ForwardTrace trace) {
        Workspace ws = run(batch, cache, trace);
        // the step's one copy back: each returned row is the caller's to keep
        int vocab = cfg.vocabSize();
        List<float[][]> out = new ArrayList<>(batch.size());
        int r = 0;
        for (SequenceSlice s : batch) {
            float[][] rows = new float[s.allLogits() ? s.tokens().length : 1][];
            for (int j = 0; j < rows.length; j++) {
                rows[j] = new float[vocab];
                backend.copyOut(ws.logits.rows(r++, 1), rows[j], 0);
            }
            out.add(rows);
        }
        return out;
    }

    /** Runs one step; its logits stay on the backend, which samples them (only ids and logprobs come back). */
    @Override
    public StepLogits step(List<SequenceSlice> batch, LatentCache cache) {
        Workspace ws = run(batch, cache, ForwardTrace.NONE);
        Activation logits = ws.logits;
        return b -> backend.sample(logits, b);
    }

    @Override
    public TokenCounts tokenCounts(int[] prompt, int promptLength) {
        return backend.tokenCounts(prompt, promptLength);
    }

    private Workspace run(List<SequenceSlice> batch, LatentCache cache, ForwardTrace trace) {
        checkCache(cache);
        StepInputs in = inputs.build(batch, cache);
        Workspace ws = workspace(in.rows());
        ws.bind(in);
        forward(in, ws, cache, trace);
        return ws;
    }

    private Workspace workspace(int tokens) {
        int bucket = 32 - Integer.numberOfLeadingZeros(Math.max(1, tokens) - 1);
        if (workspaces[bucket] == null) {
            workspaces[bucket] = new Workspace(backend, cfg, shard, 1 << bucket, hostRouting);
        }
        return workspaces[bucket];
    }

    /** Spec §3: h = embed(ids); per layer h += attn(norm(h)); h += ffn(norm(h)); logits = lm_head(norm(h)). */
    private void forward(StepInputs in, Workspace ws, LatentCache cache, ForwardTrace trace) {
        embed(in, ws);
        for (int m = 0; m < in.mediaRows(); m++) {
            backend.copyIn(in.mediaValues(m), 0, ws.h.rows(in.mediaRow(m), 1));
        }
        float eps = (float) cfg.rmsNormEps();
        for (int l = 0; l < weights.layers().size(); l++) {
            LayerWeights lw = weights.layers().get(l);
            String tag = trace == ForwardTrace.NONE ? null : "layer" + l + ".";
            trace(trace, tag, "input", ws.h);
            backend.rmsNorm(ws.h, lw.inputNorm(), eps, ws.xn);
            trace(trace, tag, "input_layernorm_out", ws.xn);
            attention(l, lw.attention(), in, ws, cache, trace, tag);
            trace(trace, tag, "self_attn_out", ws.delta);
            backend.add(ws.delta, ws.h);
            backend.rmsNorm(ws.h, lw.postAttentionNorm(), eps, ws.xn);
            trace(trace, tag, "post_attention_layernorm_out", ws.xn);
            switch (lw.feedForward()) {
                case LayerWeights.Dense dense -> swiglu(dense, ws.xn, ws.gate, ws.up, ws.delta);
                case LayerWeights.Moe moe when hybrid != null -> hybrid.forward(l, moe, ws, trace, tag);
                case LayerWeights.Moe moe -> moe(moe, ws, trace, tag);
            }
            collectives.allReduceSum(ws.delta);
            trace(trace, tag, "mlp_out", ws.delta);
            backend.add(ws.delta, ws.h);
            trace(trace, tag, "output", ws.h);
        }
        backend.gatherRows(ws.h, ws.logitRows, ws.selected);
        backend.rmsNorm(ws.selected, weights.finalNorm(), eps, ws.selected);
        if (in.logitRows() == in.rows()) {
            trace(trace, "", "final_norm_out", ws.selected);
        }
        backend.matmul(weights.lmHead(), ws.selected, ws.vocabBand);
        if (shard.ranks() > 1) {
            collectives.allGatherVocab(ws.localLogits, ws.logits);
        }
    }

    /**
     * The embedding rows of the step's tokens. Split by vocabulary, a rank writes the rows of the tokens in its band
     * and zeros elsewhere, and the all-reduce assembles them (each row has one non-zero part, so the sum is exact).
     */
    private void embed(StepInputs in, Workspace ws) {
        if (shard.vocab() == cfg.vocabSize()) {
            backend.embed(weights.embedding(), ws.tokenIds, ws.h);
            return;
        }
        int[] tokens = in.tokens();
        int first = shard.firstVocab();
        int mine = 0;
        for (int t = 0; t < in.rows(); t++) {
            int local = tokens[t] - first;
            if (local >= 0 && local < shard.vocab()) {
                ws.embedIdsHost[mine] = local;
                ws.embedRowsHost[mine++] = t;
            }
        }
        backend.zero(ws.h);
        if (mine > 0) {
            Activation rows = ws.embedded(mine);
            backend.embed(weights.embedding(), ws.embedIds(mine), rows);
            backend.scatterRows(rows, ws.embedRows(mine), ws.h);
        }
        collectives.allReduceSum(ws.h);
    }

    /** MLA (spec §3.2): queries and the compressed latent; the latent, normalised and rotated, into the cache. */
    private void attention(int l, LayerWeights.Attention w, StepInputs in, Workspace ws, LatentCache cache,
                           ForwardTrace trace, String tag) {
        int heads = shard.heads();
        int nope = cfg.qkNopeHeadDim();
        int ropeDim = cfg.qkRopeHeadDim();
        int qk = nope + ropeDim;
        int vDim = cfg.vHeadDim();
        int rank = cfg.kvLoraRank();
        String at = tag == null ? null : tag + "attn.";
        if (w.q() != null) {
            matmulAll(w.q(), ws.xn, ws.q, w.kvA(), ws.xn, ws.kva);
        } else {
            matmulAll(w.qA(), ws.xn, ws.cq, w.kvA(), ws.xn, ws.kva);
            backend.rmsNorm(ws.cq, w.qANorm(), LATENT_NORM_EPS, ws.cq);
            trace(trace, at, "q_a_layernorm_out", ws.cq);
            backend.matmul(w.qB(), ws.cq, ws.q);
        }
        trace(trace, at, "q_b_proj_out", ws.q);
        trace(trace, at, "kv_a_proj_with_mqa_out", ws.kva);
        backend.rmsNorm(ws.kvaLatent, w.kvANorm(), LATENT_NORM_EPS, ws.latentC);
        backend.copy(ws.kvaRope, ws.latentRope);
        backend.ropeInterleaved(ws.latentRope, 1, 0, ws.positions, invFreq, rope.cosSinScale());
        Activation slab = cache.slab(l);
        backend.scatterRows(ws.latent, ws.slots, slab);
        trace(trace, at, "kv_a_layernorm_out", ws.latentC);
        backend.ropeInterleaved(ws.qRope, heads, qk, ws.positions, invFreq, rope.cosSinScale());

        int perHead = nope + vDim;
        if (in.absorbedRows() > 0) {
            // absorbed: W_UK folded into the query, attention in the latent space, W_UV applied after
            backend.matmulHeadsTransposed(w.kvB(), heads, perHead, 0, nope, ws.qAbsorbed, qk, ws.qLatAbsorbed);
            backend.attentionAbsorbed(ws.qLatAbsorbed, ws.qPeAbsorbed, qk, heads, slab, ws.context, ws.absorbedStarts,
                    rope.softmaxScale(), ws.oLatAbsorbed);
            backend.matmulHeads(w.kvB(), heads, perHead, nope, vDim, ws.oLatAbsorbed, ws.oAbsorbed);
        }
        for (int p = in.absorbedSlices(); p < in.slices(); p++) {
            // naive: per-head keys and values expanded from the cached latents of every position so far
            int start = in.startPos(p);
            int positions = start + in.rowCount(p);
            Activation latents = ws.contextLatent(positions);
            backend.gatherRows(slab, ws.context.slice(in.contextStart()[p], positions), latents);
            Activation kv = ws.contextKv(positions);
            backend.matmul(w.kvB(), latents.cols(0, rank), kv);
            if (start == 0) {
                trace(trace, at, "kv_b_proj_out", kv);
            }
            backend.attentionNaive(ws.q.rows(in.firstRow(p), in.rowCount(p)), start, kv, latents.cols(rank, ropeDim),
                    heads, nope, ropeDim, vDim, rope.softmaxScale(), ws.o.rows(in.firstRow(p), in.rowCount(p)));
        }
        backend.matmul(w.o(), ws.o, ws.delta);
        collectives.allReduceSum(ws.delta);
    }

    /** {@code out = down(silu(gate(x)) ⊙ up(x))}. */
    private void swiglu(LayerWeights.Dense mlp, Activation x, Activation gate, Activation up, Activation out) {
        matmulAll(mlp.gate(), x, gate, mlp.up(), x, up);
        backend.siluMul(gate, up, gate);
        backend.matmul(mlp.down(), gate, out);
    }

    /**
     * Routed and shared experts (spec §3.3) as one backend operation: the router's logits stay on the backend, which
     * routes, runs this rank's experts and adds them onto the shared expert's output ({@link Backend#moe}). Nothing
     * comes back to the host and the launches do not depend on the routing (a CUDA graph can hold the step), except
     * under a trace, which copies the routing out.
     */
    private void moe(LayerWeights.Moe moe, Workspace ws, ForwardTrace trace, String tag) {
        backend.matmul(moe.router(), ws.xn, ws.router);
        MoeScratch scratch = ws.moeScratch(moe.block());
        backend.moe(moe.block(), ws.xn, ws.router, scratch, ws.delta);
        if (tag != null) {
            int n = ws.n;
            int k = cfg.numExpertsPerTok();
            int[] chosen = new int[n * k];
            backend.copyOut(scratch.chosen(n), chosen, 0);
            float[] idx = new float[n * k];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = chosen[i];
            }
            float[] weight = new float[n * k];
            backend.copyOut(scratch.weights(n), weight, 0);
            trace.record(tag + "router.topk_idx", idx, n, k);
            trace.record(tag + "router.topk_weight", weight, n, k);
        }
    }

    /** Two products as one batch (the q and latent projections, or gate and up). */
    private void matmulAll(LinearWeight a, Activation xa, Activation ya, LinearWeight b, Activation xb, Activation yb) {
        products.clear();
        products.add(new Product(a, xa, ya));
        products.add(new Product(b, xb, yb));
        backend.matmulAll(products);
    }

    /** Copies {@code a} out for {@code trace} (golden-data debugging only: the one place the host reads activations). */
    private void trace(ForwardTrace trace, String tag, String name, Activation a) {
        if (trace == ForwardTrace.NONE) {
            return;
        }
        float[] host = new float[a.rows() * a.cols()];
        backend.copyOut(a, host, 0);
        trace.record(tag + name, host, a.rows(), a.cols());
    }

    private void checkCache(LatentCache cache) {
        if (cache.layers() != cfg.numHiddenLayers() || cache.width() != cfg.kvCacheWidth()) {
            throw new IllegalArgumentException("cache has " + cache.layers() + " layers of width " + cache.width()
                    + ", model needs " + cfg.numHiddenLayers() + " of " + cfg.kvCacheWidth());
        }
    }
}
