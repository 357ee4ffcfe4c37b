package io.peregrine.kernels.check;

import io.peregrine.engine.backend.MoeRouter;
import io.peregrine.kernels.cuda.CudaContext;
import io.peregrine.kernels.cuda.DeviceBuffer;
import io.peregrine.kernels.cuda.DeviceOps;
import io.peregrine.kernels.cuda.Geometries;
import io.peregrine.kernels.cuda.KernelArgs;
import io.peregrine.kernels.graph.CudaGraphCapturer;
import io.peregrine.kernels.graph.DecodeGraphs;
import io.peregrine.kernels.layout.Int4ExpertStack;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import jcuda.driver.CUgraphExec;

/**
 * One decode step of a model with Kimi K2.5's layer shapes (spec §1.2, §3) and {@code layers} MoE layers, every
 * weight random and resident (about 9.8 GB a layer, so the step streams the 60 MB L2 many times over), run eagerly
 * and as a replayed CUDA graph. Numbers are throughput of the kernels, not a validated model: the check of each
 * kernel's arithmetic is {@link KernelChecks}.
 */
final class SyntheticDecode {
    static final int HIDDEN = 7168, Q_RANK = 1536, KV_RANK = 512, ROPE = 64, NOPE = 128, V = 128, HEADS = 64;
    static final int EXPERTS = 384, K = 8, INTER = 2048, VOCAB = 163_840, PAGE = 64;
    static final MoeRouter ROUTER = new MoeRouter(EXPERTS, 1, 1, K, true, 2.827f);

    private final CudaContext ctx;
    private final DeviceOps ops;
    private final KernelTimings alloc;
    private final int layers;
    private final int batch;
    private final int context;
    private final List<Layer> model = new ArrayList<>();
    private final Int4ExpertStack gu = new Int4ExpertStack(EXPERTS, 2 * INTER, HIDDEN);
    private final Int4ExpertStack dn = new Int4ExpertStack(EXPERTS, HIDDEN, INTER);
    private final Geometries.MlaDecodePlan plan;
    private final int maxBlocks;
    private DeviceBuffer embed, lmHead, finalNorm, invFreq;
    private DeviceBuffer ids, pos, slots, seqLens, blockTable;
    private DeviceBuffer h, xn, cq, cqn, q, kva, ckv, qlat, olat, attn, ao, rlog, tIdx, tW, off, pTok, sPos, act, nAct;
    private DeviceBuffer guOut, actOut, yPerm, sgu, sact, sh, moe, logits, next, ml, pacc;

    record Layer(DeviceBuffer attnNorm, DeviceBuffer qa, DeviceBuffer qaNorm, DeviceBuffer qb, DeviceBuffer kvaW,
                 DeviceBuffer kvNorm, DeviceBuffer kvb, DeviceBuffer wo, DeviceBuffer ffnNorm, DeviceBuffer gate,
                 DeviceBuffer bias, DeviceBuffer guW, DeviceBuffer guS, DeviceBuffer dnW, DeviceBuffer dnS,
                 DeviceBuffer sharedGu, DeviceBuffer sharedDn, DeviceBuffer cache) {}

    SyntheticDecode(DeviceOps ops, long seed, int layers, int batch, int context) {
        this.ops = ops;
        this.ctx = ops.context();
        this.alloc = new KernelTimings(ops, seed);
        this.layers = layers;
        this.batch = batch;
        this.context = context;
        this.maxBlocks = (context + 1 + PAGE - 1) / PAGE;
        this.plan = Geometries.mlaDecodeMma(HEADS, batch, maxBlocks * PAGE, ctx.multiprocessors());
    }

    private DeviceBuffer norm(int n) {
        float[] a = new float[n];
        Random r = new Random(n);
        for (int i = 0; i < n; i++) {
            a[i] = 1f + 0.1f * (float) r.nextGaussian();
        }
        return alloc.keep(ctx.floats(n).upload(a));
    }

    private DeviceBuffer f(long n) {
        return alloc.keep(ctx.floats(n));
    }

    private DeviceBuffer i(long n) {
        return alloc.keep(ctx.alloc(4 * n));
    }

    void build() {
        int slotsPerLayer = batch * maxBlocks * PAGE;
        for (int l = 0; l < layers; l++) {
            model.add(new Layer(norm(HIDDEN), alloc.randomBf16((long) Q_RANK * HIDDEN, 0.02f), norm(Q_RANK),
                    alloc.randomBf16((long) HEADS * (NOPE + ROPE) * Q_RANK, 0.03f), alloc.randomBf16((long) (KV_RANK + ROPE) * HIDDEN, 0.02f),
                    norm(KV_RANK), alloc.randomBf16((long) HEADS * (NOPE + V) * KV_RANK, 0.04f),
                    alloc.randomBf16((long) HIDDEN * HEADS * V, 0.01f), norm(HIDDEN), alloc.randomBf16((long) EXPERTS * HIDDEN, 0.02f),
                    alloc.keep(ctx.floats(EXPERTS).upload(new float[EXPERTS])),
                    alloc.randomWords(gu.wordsPerExpert() * EXPERTS), alloc.randomBf16(gu.scalesPerExpert() * EXPERTS, 0.002f),
                    alloc.randomWords(dn.wordsPerExpert() * EXPERTS), alloc.randomBf16(dn.scalesPerExpert() * EXPERTS, 0.004f),
                    alloc.randomBf16(2L * INTER * HIDDEN, 0.02f), alloc.randomBf16((long) HIDDEN * INTER, 0.02f),
                    alloc.randomBf16((long) slotsPerLayer * (KV_RANK + ROPE), 1f)));
        }
        embed = alloc.randomBf16((long) VOCAB * HIDDEN, 1f);
        lmHead = alloc.randomBf16((long) VOCAB * HIDDEN, 0.02f);
        finalNorm = norm(HIDDEN);
        invFreq = alloc.keep(ctx.floats(32).upload(KernelChecks.yarnInvFreq()));
        Random r = new Random(17);
        int[] idArr = new int[batch], posArr = new int[batch], slotArr = new int[batch], lenArr = new int[batch];
        int[] table = new int[batch * maxBlocks];
        for (int b = 0; b < batch; b++) {
            idArr[b] = r.nextInt(VOCAB);
            posArr[b] = context;
            lenArr[b] = context + 1;
            for (int j = 0; j < maxBlocks; j++) {
                table[b * maxBlocks + j] = (b * maxBlocks + j * 7919) % (batch * maxBlocks);  // scattered blocks
            }
        }
        // the table must be a permutation for slots not to collide; fall back to identity when 7919 shares a factor
        boolean[] seen = new boolean[table.length];
        for (int t : table) {
            if (seen[t]) {
                for (int j = 0; j < table.length; j++) {
                    table[j] = j;
                }
                break;
            }
            seen[t] = true;
        }
        for (int b = 0; b < batch; b++) {
            slotArr[b] = table[b * maxBlocks + context / PAGE] * PAGE + context % PAGE;
        }
        ids = alloc.keep(ctx.alloc(4L * batch).upload(idArr));
        pos = alloc.keep(ctx.alloc(4L * batch).upload(posArr));
        slots = alloc.keep(ctx.alloc(4L * batch).upload(slotArr));
        seqLens = alloc.keep(ctx.alloc(4L * batch).upload(lenArr));
        blockTable = alloc.keep(ctx.alloc(4L * table.length).upload(table));
        int a = batch * K;
        h = f((long) batch * HIDDEN); xn = f((long) batch * HIDDEN); cq = f((long) batch * Q_RANK); cqn = f((long) batch * Q_RANK);
        q = f((long) batch * HEADS * (NOPE + ROPE)); kva = f((long) batch * (KV_RANK + ROPE)); ckv = f((long) batch * KV_RANK);
        qlat = f((long) batch * HEADS * KV_RANK); olat = f((long) batch * HEADS * KV_RANK); attn = f((long) batch * HEADS * V);
        ao = f((long) batch * HIDDEN); rlog = f((long) batch * EXPERTS); tIdx = i(a); tW = f(a); off = i(EXPERTS + 1);
        pTok = i(a); sPos = i(a); act = i(EXPERTS); nAct = i(1); guOut = f((long) a * 2 * INTER); actOut = f((long) a * INTER);
        yPerm = f((long) a * HIDDEN); sgu = f((long) batch * 2 * INTER); sact = f((long) batch * INTER); sh = f((long) batch * HIDDEN);
        moe = f((long) batch * HIDDEN); logits = f((long) batch * VOCAB); next = i(batch);
        ml = f(plan.maxNormFloats(batch, HEADS)); pacc = f(plan.partialFloats(batch, HEADS));
    }

    /** The step's launches; no host synchronisation, so it can be captured. */
    void step(int b) {
        float eps = 1e-5f;
        int qk = NOPE + ROPE;
        ops.embedding(ids, b, embed, VOCAB, HIDDEN, h);
        for (Layer L : model) {
            ops.rmsNorm(h, HIDDEN, b, HIDDEN, L.attnNorm(), eps, xn, HIDDEN);
            ops.bf16Gemv(L.qa(), Q_RANK, HIDDEN, xn, HIDDEN, b, cq, Q_RANK);
            ops.rmsNorm(cq, Q_RANK, b, Q_RANK, L.qaNorm(), eps, cqn, Q_RANK);
            ops.bf16Gemv(L.qb(), HEADS * qk, Q_RANK, cqn, Q_RANK, b, q, HEADS * qk);
            ops.bf16Gemv(L.kvaW(), KV_RANK + ROPE, HIDDEN, xn, HIDDEN, b, kva, KV_RANK + ROPE);
            ops.rmsNorm(kva, KV_RANK + ROPE, b, KV_RANK, L.kvNorm(), eps, ckv, KV_RANK);
            ops.ropeInterleaved(q, b, HEADS * qk, HEADS, qk, NOPE, pos, invFreq, ROPE / 2, 1f);
            ops.ropeInterleaved(kva, b, KV_RANK + ROPE, 1, KV_RANK + ROPE, KV_RANK, pos, invFreq, ROPE / 2, 1f);
            ops.mlaCacheWrite(ckv, KV_RANK, kva.at(4L * KV_RANK), KV_RANK + ROPE, slots, b, L.cache());
            ops.bf16GemvTransposedHeads(L.kvb(), NOPE, KV_RANK, (long) (NOPE + V) * KV_RANK, q, qk, HEADS * qk, qlat,
                    KV_RANK, HEADS * KV_RANK, HEADS, b);
            ops.mlaDecode(plan, qlat, q.at(4L * NOPE), qk, HEADS, L.cache(), blockTable, maxBlocks, PAGE, seqLens,
                    0.1446796258f, ml, pacc, olat);
            ops.bf16GemvHeads(L.kvb().at(2L * NOPE * KV_RANK), V, KV_RANK, (long) (NOPE + V) * KV_RANK, olat,
                    HEADS * KV_RANK, KV_RANK, b, attn, HEADS * V, V, HEADS);
            ops.bf16Gemv(L.wo(), HIDDEN, HEADS * V, attn, HEADS * V, b, ao, HIDDEN);
            ops.axpy(1f, ao, h, b * HIDDEN);
            ops.rmsNorm(h, HIDDEN, b, HIDDEN, L.ffnNorm(), eps, xn, HIDDEN);
            ops.bf16Gemv(L.gate(), EXPERTS, HIDDEN, xn, HIDDEN, b, rlog, EXPERTS);
            ops.router(rlog, b, ROUTER, L.bias(), tIdx, tW);
            ops.permute(tIdx, b * K, K, EXPERTS, off, pTok, sPos, act, nAct);
            ops.int4GroupedGemv(gu, L.guW(), L.guS(), act, nAct, off, xn, HIDDEN, pTok, guOut, 2 * INTER, b, K);
            ops.siluMul(guOut, actOut, b * K, INTER);
            ops.int4GroupedGemv(dn, L.dnW(), L.dnS(), act, nAct, off, actOut, INTER, KernelArgs.NULL, yPerm, HIDDEN, b, K);
            ops.bf16Gemv(L.sharedGu(), 2 * INTER, HIDDEN, xn, HIDDEN, b, sgu, 2 * INTER);
            ops.siluMul(sgu, sact, b, INTER);
            ops.bf16Gemv(L.sharedDn(), HIDDEN, INTER, sact, INTER, b, sh, HIDDEN);
            ops.combine(yPerm, HIDDEN, sPos, tW, K, sh, moe, b, HIDDEN);
            ops.axpy(1f, moe, h, b * HIDDEN);
        }
        ops.rmsNorm(h, HIDDEN, b, HIDDEN, finalNorm, eps, xn, HIDDEN);
        ops.bf16Gemv(lmHead, VOCAB, HIDDEN, xn, HIDDEN, b, logits, VOCAB);
        ops.argmax(logits, b, VOCAB, next);
    }

    /**
     * Device bytes {@link #build} allocates for {@code layers} layers (each buffer it makes, counted the same way), to
     * size the run to the memory that is free.
     */
    static long bytesNeeded(int layers, int batch, int context, int multiprocessors) {
        long maxBlocks = (context + 1 + PAGE - 1) / PAGE;
        long slots = batch * maxBlocks * PAGE;
        Int4ExpertStack gu = new Int4ExpertStack(EXPERTS, 2 * INTER, HIDDEN);
        Int4ExpertStack dn = new Int4ExpertStack(EXPERTS, HIDDEN, INTER);
        long bf16 = (long) Q_RANK * HIDDEN + (long) HEADS * (NOPE + ROPE) * Q_RANK + (long) (KV_RANK + ROPE) * HIDDEN
                + (long) HEADS * (NOPE + V) * KV_RANK + (long) HIDDEN * HEADS * V + (long) EXPERTS * HIDDEN
                + (gu.scalesPerExpert() + dn.scalesPerExpert()) * EXPERTS + 3L * INTER * HIDDEN + slots * (KV_RANK + ROPE);
        long f32 = 2L * HIDDEN + Q_RANK + KV_RANK + EXPERTS;  // norms, bias
        long perLayer = 2 * bf16 + 4 * f32 + 4 * (gu.wordsPerExpert() + dn.wordsPerExpert()) * EXPERTS;
        long a = (long) batch * K;
        Geometries.MlaDecodePlan plan = Geometries.mlaDecodeMma(HEADS, batch, (int) (maxBlocks * PAGE), multiprocessors);
        long activations = 5L * batch * HIDDEN + 2L * batch * Q_RANK + (long) batch * HEADS * (NOPE + ROPE)
                + (long) batch * (KV_RANK + ROPE) + (long) batch * KV_RANK + 2L * batch * HEADS * KV_RANK
                + (long) batch * HEADS * V + (long) batch * EXPERTS + 4 * a + 2L * EXPERTS + 2 + a * (3L * INTER + HIDDEN)
                + 3L * batch * INTER + (long) batch * VOCAB + 5L * batch + batch * maxBlocks + HIDDEN + 32
                + plan.maxNormFloats(batch, HEADS) + plan.partialFloats(batch, HEADS);
        return layers * perLayer + 2L * 2 * VOCAB * HIDDEN + 4 * activations;
    }

    void run(Perf perf, PrintStream out) {
        try {
            measure(perf, out);
        } finally {
            alloc.close();
        }
    }

    private void measure(Perf perf, PrintStream out) {
        build();
        EventTimer timer = new EventTimer(ctx);
        step(batch);
        ctx.sync();
        int distinct = nAct.ints(1)[0];
        int[] tokens = next.ints(batch);
        float[] hs = h.floats(batch * HIDDEN);
        boolean finite = true;
        for (float v : hs) {
            finite &= Float.isFinite(v);
        }
        out.printf("synthetic decode: %d MoE layers, batch %d, context %d; last layer used %d experts; hidden state %s; next token[0] %d%n",
                layers, batch, context, distinct, finite ? "finite" : "NOT FINITE", tokens[0]);
        double eager = timer.medianMicros(2, 10, i -> step(batch));
        double graphUs;
        try (DecodeGraphs<CUgraphExec> graphs = new DecodeGraphs<>(new CudaGraphCapturer(ctx, this::step, b -> { }), batch)) {
            graphs.step(batch);
            ctx.sync();
            graphUs = timer.medianMicros(2, 10, i -> graphs.step(batch));
        }
        double attnBytes = 2.0 * ((double) Q_RANK * HIDDEN + (double) HEADS * (NOPE + ROPE) * Q_RANK + (double) (KV_RANK + ROPE) * HIDDEN
                + (double) HEADS * (NOPE + V) * KV_RANK + (double) HIDDEN * HEADS * V + (double) EXPERTS * HIDDEN + 3.0 * INTER * HIDDEN);
        double expertBytes = distinct * (4.0 * gu.wordsPerExpert() + 2.0 * gu.scalesPerExpert() + 4.0 * dn.wordsPerExpert() + 2.0 * dn.scalesPerExpert());
        double cacheBytes = 2.0 * batch * (context + 1) * (KV_RANK + ROPE);
        double bytes = layers * (attnBytes + expertBytes + cacheBytes) + 2.0 * VOCAB * HIDDEN;
        perf.memoryBound("decode step eager, " + layers + " layers, batch " + batch, eager, bytes);
        perf.memoryBound("decode step CUDA graph, " + layers + " layers, batch " + batch, graphUs, bytes);
        out.printf("decode step: eager %.0f µs, graph %.0f µs; %.2f GB touched per step (weights read once + cache); %.0f tokens/s at batch %d for %d layers%n",
                eager, graphUs, bytes / 1e9, batch / (graphUs * 1e-6), batch, layers);
    }
}
