package io.peregrine.engine.model;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.Indices;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.Product;
import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.dist.SingleRank;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.shard.ShardingPlan;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * The Kimi K2.5 / DeepSeek-V3 text decoder (spec §3) over a {@link Backend}: embedding, MLA + (dense | MoE) layers,
 * final norm, untied lm_head. A step's inputs are flattened once ({@link StepInputs}) and uploaded into the
 * workspace of its batch-size bucket ({@link Workspace}); every layer then runs on backend tensors, all tokens of the
 * batch through each projection together. Attention runs in the absorbed form for the decode slices and the short
 * prefill chunks deep into a prompt, every such row over its own causal context in one call, and in the naive form
 * per other prefill slice (the choice is {@link StepInputs}'). The host sees the router's logits (routing is decided
 * on the host) and the logits rows the step returns.
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
    private final MoeRouter router;
    private final MoeRouter.Scratch routing;
    private final StepInputs inputs;
    /** Workspace of bucket {@code b} holds up to {@code 2^b} tokens. */
    private final Workspace[] workspaces = new Workspace[32];
    private final List<Product> products = new ArrayList<>();
    /** Which routed experts run on {@link #hostExperts}' backend (none unless loaded with a host). */
    private final ExpertPlacement placement;
    private final HostExperts hostExperts;

    private KimiTextModel(TextConfig cfg, Backend backend, KimiWeights weights, TextShard shard, Communicator comm,
                          ExpertPlacement placement, Backend host) {
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
        this.router = cfg.nRoutedExperts() > 0
                ? new MoeRouter(cfg.nRoutedExperts(), cfg.nGroup(), cfg.topkGroup(), cfg.numExpertsPerTok(),
                        cfg.normTopkProb(), (float) cfg.routedScalingFactor())
                : null;
        this.routing = router == null ? null : router.scratch();
        this.inputs = new StepInputs(cfg, backend.batchInvariant());
        this.placement = placement;
        this.hostExperts = placement.usesHost() ? new HostExperts(backend, host, cfg, shard.moeInter()) : null;
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
                comm, ExpertPlacement.primary(ck.config().text()), backend);
    }

    /**
     * A model of one rank over two backends (issue 20): everything on {@code primary} except the routed experts
     * {@code placement} puts on {@code host}, which {@code host} keeps and computes. Each MoE layer copies the rows
     * routed to host experts out to the host and their outputs back; the results are the one-backend model's.
     * The caller owns and closes both backends.
     */
    public static KimiTextModel load(Checkpoint ck, Backend primary, Backend host, ExpertPlacement placement,
                                     Consumer<WeightProgress> progress) {
        TextShard shard = TextShard.of(new ShardingPlan(ck.config(), 1, false), 0);
        if (placement.host().size() != ck.config().text().numHiddenLayers()) {
            throw new IllegalArgumentException("placement for " + placement.host().size() + " layers, the model has "
                    + ck.config().text().numHiddenLayers());
        }
        return new KimiTextModel(ck.config().text(), primary,
                KimiWeights.load(ck, primary, host, placement, shard, progress), shard, new SingleRank(), placement,
                host);
    }

    public ExpertPlacement placement() {
        return placement;
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
            workspaces[bucket] = new Workspace(backend, cfg, shard, 1 << bucket);
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
                case LayerWeights.Moe moe -> moe(l, moe, ws, trace, tag);
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
     * Routed experts (spec §3.3): the router picks {@code k} experts per token; each active expert runs over the rows
     * routed to it, gathered contiguously in expert order; the shared expert runs over every row. All gate/up
     * products are one batch, all down products another; the outputs are added back weighted, in expert order.
     * Every rank routes every token (same router, same input bits) and runs its own experts, whose assignments are
     * one contiguous range since they are laid out in expert order; the caller's all-reduce adds the ranks' parts.
     * Experts the placement puts on the host run there ({@link HostExperts}: their rows sent before the primary's
     * products, computed after them) and leave their outputs in the same rows of the expert buffer, so the combine is
     * unchanged.
     */
    private void moe(int layer, LayerWeights.Moe moe, Workspace ws, ForwardTrace trace, String tag) {
        int n = ws.n;
        int experts = cfg.nRoutedExperts();
        int k = cfg.numExpertsPerTok();
        backend.matmul(moe.router(), ws.xn, ws.router);
        backend.copyOut(ws.router, ws.routerHost, 0);
        int assignments = route(moe, ws, n, experts, k);
        if (tag != null) {
            float[] idx = new float[n * k];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = ws.topIdx[i];
            }
            trace.record(tag + "router.topk_idx", idx, n, k);
            trace.record(tag + "router.topk_weight", Arrays.copyOf(ws.topWeight, n * k), n, k);
        }
        int firstExpert = shard.firstExpert();
        int endExpert = firstExpert + shard.experts();
        int first = ws.expertFirst[firstExpert];
        int mine = ws.expertFirst[endExpert] - first;
        Indices rows = ws.expertRows(assignments);
        backend.copyIn(ws.expertRowsHost, 0, rows);
        Activation scale = ws.expertScale(assignments);
        backend.copyIn(ws.expertScaleHost, 0, scale);
        rows = rows.slice(first, mine);
        scale = scale.cols(first, mine);
        if (mine > 0) {
            backend.gatherRows(ws.xn, rows, ws.expertIn(first, mine));
        }
        if (hostExperts != null) {
            hostExperts.send(layer, placement, ws, firstExpert, endExpert);
        }

        products.clear();
        if (moe.shared() != null) {
            products.add(new Product(moe.shared().gate(), ws.xn, ws.sharedGate));
            products.add(new Product(moe.shared().up(), ws.xn, ws.sharedUp));
        }
        for (int e = firstExpert; e < endExpert; e++) {
            int at = ws.expertFirst[e];
            int count = ws.expertCount[e];
            if (count > 0 && !placement.onHost(layer, e)) {
                LayerWeights.Dense mlp = moe.experts().get(e - firstExpert);
                products.add(new Product(mlp.gate(), ws.expertIn(at, count), ws.expertGate(at, count)));
                products.add(new Product(mlp.up(), ws.expertIn(at, count), ws.expertUp(at, count)));
            }
        }
        backend.matmulAll(products);

        products.clear();
        if (moe.shared() != null) {
            backend.siluMul(ws.sharedGate, ws.sharedUp, ws.sharedGate);
            products.add(new Product(moe.shared().down(), ws.sharedGate, ws.sharedOut));
        }
        for (int e = firstExpert; e < endExpert; e++) {
            int at = ws.expertFirst[e];
            int count = ws.expertCount[e];
            if (count > 0 && !placement.onHost(layer, e)) {
                Activation g = ws.expertGate(at, count);
                backend.siluMul(g, ws.expertUp(at, count), g);
                products.add(new Product(moe.experts().get(e - firstExpert).down(), g, ws.expertOut(at, count)));
            }
        }
        backend.matmulAll(products);
        if (hostExperts != null) {
            // after the primary's products are queued: a device runs them while the host computes
            hostExperts.compute(layer, moe, placement, ws, firstExpert, endExpert);
        }

        backend.zero(ws.delta);
        if (moe.shared() != null) {
            backend.add(ws.sharedOut, ws.delta);
        }
        if (mine > 0) {
            backend.scatterAddScaled(ws.expertOut(first, mine), rows, scale, ws.delta);
        }
    }

    /**
     * Picks each token's experts from the copied-out router logits and lays the assignments out grouped by expert,
     * in token order within an expert: {@code expertRowsHost} (the token row), {@code expertScaleHost} (its weight),
     * {@code expertFirst}/{@code expertCount} per expert.
     */
    private int route(LayerWeights.Moe moe, Workspace ws, int n, int experts, int k) {
        Arrays.fill(ws.expertCount, 0);
        for (int t = 0; t < n; t++) {
            router.route(ws.routerHost, t * experts, moe.correctionBias(), ws.topIdx, ws.topWeight, t * k, routing);
            for (int j = 0; j < k; j++) {
                ws.expertCount[ws.topIdx[t * k + j]]++;
            }
        }
        ws.expertFirst[0] = 0;
        for (int e = 0; e < experts; e++) {
            ws.expertFirst[e + 1] = ws.expertFirst[e] + ws.expertCount[e];
        }
        int[] next = ws.expertFirst;
        // fill in expert order, token order within an expert; expertFirst is restored below
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < k; j++) {
                int e = ws.topIdx[t * k + j];
                int at = next[e]++;
                ws.expertRowsHost[at] = t;
                ws.expertScaleHost[at] = ws.topWeight[t * k + j];
            }
        }
        for (int e = experts; e > 0; e--) {
            next[e] = next[e - 1];
        }
        next[0] = 0;
        return n * k;
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
