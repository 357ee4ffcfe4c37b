package io.peregrine.engine.model;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.Indices;
import io.peregrine.engine.backend.MoeBlock;
import io.peregrine.engine.backend.MoeScratch;
import io.peregrine.engine.config.TextConfig;

/**
 * Every buffer a forward step of up to {@link #capacity()} tokens needs, allocated once on the backend (llama3.java's
 * {@code State}, one per batch-size bucket). {@link #bind} uploads a step's inputs and takes this step's views of
 * the first {@code n} rows; the layers reuse the same buffers, so a step allocates no activation memory. Buffers whose
 * size depends on more than the token count (a prefill slice's context, the rows that want logits) grow on demand and
 * are kept.
 */
final class Workspace {
    private final Backend backend;
    private final TextConfig cfg;
    private final TextShard shard;
    private final int capacity;

    // whole buffers, [capacity, ...]
    private final Activation hAll;
    private final Activation xnAll;
    private final Activation deltaAll;
    private final Activation qAll;
    private final Activation cqAll;
    private final Activation kvaAll;
    private final Activation latentAll;
    private final Activation qLatAll;
    private final Activation oLatAll;
    private final Activation oAll;
    private final Activation gateAll;
    private final Activation upAll;
    private final Activation sharedGateAll;
    private final Activation sharedUpAll;
    private final Activation sharedOutAll;
    private final Activation routerAll;
    private final Activation expertInAll;
    private final Activation expertGateAll;
    private final Activation expertUpAll;
    private final Activation expertOutAll;
    private final Activation expertScaleAll;
    private final Indices tokenIdsAll;
    private final Indices positionsAll;
    private final Indices slotsAll;
    private final Indices logitRowsAll;
    private final Indices absorbedStartsAll;
    private final Indices expertRowsAll;
    private Indices contextAll;
    private Activation selectedAll;
    private Activation logitsAll;
    private Activation localLogitsAll;
    /** This rank's band of the vocabulary: the tokens it embeds (local ids, their rows) and their embeddings. */
    private final Indices embedIdsAll;
    private final Indices embedRowsAll;
    private final Activation embeddedAll;
    private Activation contextLatentAll;
    private Activation contextKvAll;
    private MoeScratch moeScratch;

    /** Host-side routing buffers (the router's decisions are made on the host from copied-out logits). */
    final float[] routerHost;
    final int[] topIdx;
    final float[] topWeight;
    final int[] expertRowsHost;
    final float[] expertScaleHost;
    final int[] expertCount;
    final int[] expertFirst;
    final int[] embedIdsHost;
    final int[] embedRowsHost;

    // this step's views (bind)
    int n;
    Activation h;
    Activation xn;
    Activation delta;
    Activation q;
    Activation qRope;
    Activation cq;
    Activation kva;
    Activation kvaLatent;
    Activation kvaRope;
    Activation latent;
    Activation latentC;
    Activation latentRope;
    Activation qAbsorbed;
    Activation qPeAbsorbed;
    Activation qLatAbsorbed;
    Activation oLatAbsorbed;
    Activation oAbsorbed;
    Activation o;
    Activation gate;
    Activation up;
    Activation sharedGate;
    Activation sharedUp;
    Activation sharedOut;
    Activation router;
    Activation selected;
    Activation logits;
    /** This rank's {@code [rows, vocabPerRank]} band of {@link #logits} (the same tensor for a group of one). */
    Activation localLogits;
    /** The columns of {@link #localLogits} this rank's {@code lm_head} rows fill (all but a short last band's padding). */
    Activation vocabBand;
    Indices tokenIds;
    Indices positions;
    Indices slots;
    Indices logitRows;
    Indices context;
    Indices absorbedStarts;

    /**
     * @param hostRouting whether some MoE layer routes on the host (experts on two backends): only then are the
     *                    host-routed expert buffers sized for the bucket ({@link Backend#moe} keeps its own)
     */
    Workspace(Backend backend, TextConfig cfg, TextShard shard, int capacity, boolean hostRouting) {
        this.backend = backend;
        this.cfg = cfg;
        this.shard = shard;
        this.capacity = capacity;
        int d = cfg.hiddenSize();
        int heads = shard.heads();
        int k = Math.max(1, cfg.numExpertsPerTok());
        boolean moe = cfg.nRoutedExperts() > 0;
        hAll = backend.allocate(capacity, d);
        xnAll = backend.allocate(capacity, d);
        deltaAll = backend.allocate(capacity, d);
        qAll = backend.allocate(capacity, heads * cfg.qkHeadDim());
        cqAll = backend.allocate(capacity, Math.max(1, cfg.qLoraRank()));
        kvaAll = backend.allocate(capacity, cfg.kvCacheWidth());
        latentAll = backend.allocate(capacity, cfg.kvCacheWidth());
        qLatAll = backend.allocate(capacity, heads * cfg.kvLoraRank());
        oLatAll = backend.allocate(capacity, heads * cfg.kvLoraRank());
        oAll = backend.allocate(capacity, heads * cfg.vHeadDim());
        boolean dense = false;
        for (int l = 0; l < cfg.numHiddenLayers(); l++) {
            dense |= !cfg.isMoeLayer(l);
        }
        int denseInter = dense ? shard.denseInter() : 1;
        gateAll = backend.allocate(capacity, denseInter);
        upAll = backend.allocate(capacity, denseInter);
        int sharedInter = moe && hostRouting ? Math.max(1, shard.sharedInter()) : 1;
        sharedGateAll = backend.allocate(capacity, sharedInter);
        sharedUpAll = backend.allocate(capacity, sharedInter);
        sharedOutAll = backend.allocate(capacity, moe && hostRouting ? d : 1);
        int experts = Math.max(1, cfg.nRoutedExperts());
        int assignments = moe && hostRouting ? capacity * k : 1;
        int moeInter = moe && hostRouting ? shard.moeInter() : 1;
        routerAll = backend.allocate(capacity, experts);
        expertInAll = backend.allocate(assignments, d);
        expertGateAll = backend.allocate(assignments, moeInter);
        expertUpAll = backend.allocate(assignments, moeInter);
        expertOutAll = backend.allocate(assignments, d);
        expertScaleAll = backend.allocate(1, assignments);
        tokenIdsAll = backend.allocateIndices(capacity);
        positionsAll = backend.allocateIndices(capacity);
        slotsAll = backend.allocateIndices(capacity);
        logitRowsAll = backend.allocateIndices(capacity);
        absorbedStartsAll = backend.allocateIndices(capacity + 1);
        expertRowsAll = backend.allocateIndices(assignments);
        contextAll = backend.allocateIndices(capacity);
        routerHost = new float[moe && hostRouting ? capacity * experts : 0];
        topIdx = new int[moe && hostRouting ? capacity * k : 0];
        topWeight = new float[moe && hostRouting ? capacity * k : 0];
        expertRowsHost = new int[moe ? assignments : 0];
        expertScaleHost = new float[moe ? assignments : 0];
        expertCount = new int[experts];
        expertFirst = new int[experts + 1];
        int split = shard.ranks() > 1 ? capacity : 1;
        embedIdsAll = backend.allocateIndices(split);
        embedRowsAll = backend.allocateIndices(split);
        embeddedAll = backend.allocate(split, d);
        embedIdsHost = new int[split];
        embedRowsHost = new int[split];
    }

    int capacity() {
        return capacity;
    }

    /** Uploads {@code in} (its one host-to-backend copy of indices) and takes this step's views. */
    void bind(StepInputs in) {
        n = in.rows();
        if (n > capacity) {
            throw new IllegalArgumentException(n + " tokens in a workspace for " + capacity);
        }
        int absorbed = in.absorbedRows();
        int heads = shard.heads();
        int qk = cfg.qkHeadDim();
        int nope = cfg.qkNopeHeadDim();
        int rank = cfg.kvLoraRank();
        int rope = cfg.qkRopeHeadDim();
        if (contextAll.length() < in.contextSlots()) {
            contextAll = backend.allocateIndices(Math.max(in.contextSlots(), 2 * contextAll.length()));
        }
        tokenIds = tokenIdsAll.slice(0, n);
        positions = positionsAll.slice(0, n);
        slots = slotsAll.slice(0, n);
        logitRows = logitRowsAll.slice(0, in.logitRows());
        context = contextAll.slice(0, in.contextSlots());
        absorbedStarts = absorbedStartsAll.slice(0, absorbed + 1);
        backend.copyIn(in.tokens(), 0, tokenIds);
        backend.copyIn(in.positions(), 0, positions);
        backend.copyIn(in.slots(), 0, slots);
        backend.copyIn(in.logitRowIndex(), 0, logitRows);
        backend.copyIn(in.context(), 0, context);
        backend.copyIn(in.absorbedStarts(), 0, absorbedStarts);

        h = hAll.rows(0, n);
        xn = xnAll.rows(0, n);
        delta = deltaAll.rows(0, n);
        q = qAll.rows(0, n);
        qRope = q.cols(nope, heads * qk - nope);
        cq = cqAll.rows(0, n);
        kva = kvaAll.rows(0, n);
        kvaLatent = kva.cols(0, rank);
        kvaRope = kva.cols(rank, rope);
        latent = latentAll.rows(0, n);
        latentC = latent.cols(0, rank);
        latentRope = latent.cols(rank, rope);
        qAbsorbed = q.rows(0, absorbed);
        qPeAbsorbed = qAbsorbed.cols(nope, heads * qk - nope);
        qLatAbsorbed = qLatAll.rows(0, absorbed);
        oLatAbsorbed = oLatAll.rows(0, absorbed);
        o = oAll.rows(0, n);
        oAbsorbed = o.rows(0, absorbed);
        gate = gateAll.rows(0, n);
        up = upAll.rows(0, n);
        sharedGate = sharedGateAll.rows(0, n);
        sharedUp = sharedUpAll.rows(0, n);
        sharedOut = sharedOutAll.rows(0, n);
        router = routerAll.rows(0, n);
        int wanted = in.logitRows();
        if (selectedAll == null || selectedAll.rows() < wanted) {
            int rows = selectedAll == null ? wanted : Math.max(wanted, Math.min(capacity, 2 * selectedAll.rows()));
            selectedAll = backend.allocate(rows, cfg.hiddenSize());
            logitsAll = backend.allocate(rows, cfg.vocabSize());
            localLogitsAll = shard.ranks() > 1 ? backend.allocate(rows, shard.vocabPerRank()) : logitsAll;
        }
        selected = selectedAll.rows(0, wanted);
        logits = logitsAll.rows(0, wanted);
        localLogits = localLogitsAll.rows(0, wanted);
        vocabBand = localLogits.cols(0, shard.vocab());
    }

    /** {@link Backend#moe}'s working memory for this bucket (allocated at the first MoE layer, then kept). */
    MoeScratch moeScratch(MoeBlock block) {
        if (moeScratch == null) {
            moeScratch = backend.moeScratch(block, capacity);
        }
        return moeScratch;
    }

    /** Rows {@code [0, count)} of the expert buffers, for {@code count} routed assignments. */
    Activation expertIn(int first, int count) {
        return expertInAll.rows(first, count);
    }

    Activation expertGate(int first, int count) {
        return expertGateAll.rows(first, count);
    }

    Activation expertUp(int first, int count) {
        return expertUpAll.rows(first, count);
    }

    Activation expertOut(int first, int count) {
        return expertOutAll.rows(first, count);
    }

    Activation expertScale(int count) {
        return expertScaleAll.cols(0, count);
    }

    Indices expertRows(int count) {
        return expertRowsAll.slice(0, count);
    }

    /** Uploads the first {@code count} entries of {@link #embedIdsHost}/{@link #embedRowsHost} and returns their views. */
    Indices embedIds(int count) {
        Indices ids = embedIdsAll.slice(0, count);
        backend.copyIn(embedIdsHost, 0, ids);
        return ids;
    }

    Indices embedRows(int count) {
        Indices rows = embedRowsAll.slice(0, count);
        backend.copyIn(embedRowsHost, 0, rows);
        return rows;
    }

    Activation embedded(int count) {
        return embeddedAll.rows(0, count);
    }

    /** {@code [positions, width]} for a prefill slice's gathered context latents (grown, kept). */
    Activation contextLatent(int positions) {
        if (contextLatentAll == null || contextLatentAll.rows() < positions) {
            contextLatentAll = backend.allocate(grow(contextLatentAll, positions), cfg.kvCacheWidth());
        }
        return contextLatentAll.rows(0, positions);
    }

    /** {@code [positions, heads·(nope + v)]} for a prefill slice's expanded keys and values (grown, kept). */
    Activation contextKv(int positions) {
        if (contextKvAll == null || contextKvAll.rows() < positions) {
            contextKvAll = backend.allocate(grow(contextKvAll, positions),
                    shard.heads() * (cfg.qkNopeHeadDim() + cfg.vHeadDim()));
        }
        return contextKvAll.rows(0, positions);
    }

    private static int grow(Activation a, int rows) {
        return Math.max(rows, a == null ? 0 : 2 * a.rows());
    }
}
