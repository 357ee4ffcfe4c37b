package io.peregrine.kernels.check;

import io.peregrine.kernels.cuda.CudaContext;
import io.peregrine.kernels.cuda.DeviceBuffer;
import io.peregrine.kernels.cuda.DeviceOps;
import io.peregrine.kernels.cuda.Geometries;
import io.peregrine.kernels.cuda.KernelArgs;
import io.peregrine.kernels.cuda.KernelName;
import io.peregrine.kernels.cuda.LaunchGeometry;
import io.peregrine.kernels.layout.Int4ExpertStack;
import io.peregrine.kernels.layout.TileSchedule;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Times the kernels at Kimi K2.5's shapes on random device-filled data big enough to stay out of the 60 MB L2
 * (rotating over several weight sets where one would fit). Medians of CUDA-event timings.
 */
final class KernelTimings {
    private final CudaContext ctx;
    private final DeviceOps ops;
    private final EventTimer timer;
    private final Random rnd;
    private final List<DeviceBuffer> owned = new ArrayList<>();
    private long seed = 1;

    KernelTimings(DeviceOps ops, long seed) {
        this.ops = ops;
        this.ctx = ops.context();
        this.timer = new EventTimer(ctx);
        this.rnd = new Random(seed);
        this.seed = seed;
    }

    DeviceBuffer randomWords(long words) {
        DeviceBuffer b = keep(ctx.alloc(4 * words));
        ctx.launch(KernelName.FILL_RANDOM_U32, Geometries.elementwise(words), b, words, seed++);
        return b;
    }

    DeviceBuffer randomBf16(long n, float scale) {
        DeviceBuffer b = keep(ctx.alloc(2 * n));
        ctx.launch(KernelName.FILL_RANDOM_BF16, Geometries.elementwise(n), b, n, seed++, scale);
        return b;
    }

    DeviceBuffer randomF32(long n) {
        // activations are small next to the weights: drawn on the host
        float[] a = new float[(int) n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return keep(ctx.floats(n).upload(a));
    }

    DeviceBuffer keep(DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    void close() {
        owned.forEach(DeviceBuffer::close);
        owned.clear();
    }

    /** Device-to-device copy with our own 16-byte kernel: bytes read plus written per microsecond. */
    double copyGBs() {
        long bytes = 4L << 30;
        DeviceBuffer a = randomWords(bytes / 4);
        DeviceBuffer b = keep(ctx.alloc(bytes));
        long n = bytes / 16;
        LaunchGeometry g = LaunchGeometry.of(ctx.multiprocessors() * 8, 512);
        try {
            double us = timer.medianMicros(3, 20, i -> ctx.launch(KernelName.COPY_U4, g, a, b, n));
            return 2.0 * bytes / (us * 1e3);
        } finally {
            close();
        }
    }

    /** The timings; every buffer is freed when it returns or throws (the synthetic decode after it needs the room). */
    void run(Perf perf) {
        try {
            timeAll(perf);
        } finally {
            close();
        }
    }

    private void timeAll(Perf perf) {
        int hidden = 7168, inter = 2048, experts = 384, k = 8;
        // INT4 grouped decode GEMV, gate||up and down of one K2.5 layer, all 384 experts resident
        Int4ExpertStack gu = new Int4ExpertStack(experts, 2 * inter, hidden);
        Int4ExpertStack dn = new Int4ExpertStack(experts, hidden, inter);
        DeviceBuffer guW = randomWords(gu.wordsPerExpert() * experts), guS = randomBf16(gu.scalesPerExpert() * experts, 0.01f);
        DeviceBuffer dnW = randomWords(dn.wordsPerExpert() * experts), dnS = randomBf16(dn.scalesPerExpert() * experts, 0.01f);
        for (int tokens : new int[] {1, 8, 32}) {
            int a = tokens * k;
            int[] topk = new int[a];
            for (int t = 0; t < tokens; t++) {
                System.arraycopy(rnd.ints(0, experts).distinct().limit(k).toArray(), 0, topk, t * k, k);
            }
            DeviceBuffer off = keep(ctx.alloc(4L * (experts + 1))), pt = keep(ctx.alloc(4L * a)), sp = keep(ctx.alloc(4L * a));
            DeviceBuffer act = keep(ctx.alloc(4L * experts)), na = keep(ctx.alloc(4));
            DeviceBuffer ti = keep(ctx.alloc(4L * a).upload(topk));
            ops.permute(ti, a, k, experts, off, pt, sp, act, na);
            int distinct = na.ints(1)[0];
            DeviceBuffer x = randomF32((long) tokens * hidden), y = keep(ctx.floats((long) a * 2 * inter));
            double us = timer.medianMicros(3, 50, i -> ops.int4GroupedGemv(gu, guW, guS, act, na, off, x, hidden, pt, y, 2 * inter, tokens, k));
            perf.memoryBound("int4 grouped gemv gate_up, " + tokens + " tok (" + distinct + " experts)", us,
                    (double) distinct * (4 * gu.wordsPerExpert() + 2 * gu.scalesPerExpert()));
            DeviceBuffer xa = randomF32((long) a * inter), yd = keep(ctx.floats((long) a * hidden));
            us = timer.medianMicros(3, 50, i -> ops.int4GroupedGemv(dn, dnW, dnS, act, na, off, xa, inter, KernelArgs.NULL, yd, hidden, tokens, k));
            perf.memoryBound("int4 grouped gemv down, " + tokens + " tok", us,
                    (double) distinct * (4 * dn.wordsPerExpert() + 2 * dn.scalesPerExpert()));
            if (tokens == 1) {
                us = timer.medianMicros(3, 50, i -> ops.permute(ti, a, k, experts, off, pt, sp, act, na));
                perf.latency("moe_permute 8 of 384", us);
            }
        }
        // INT4 grouped prefill GEMM: 2048 tokens routed over 384 experts
        {
            int tokens = 2048, a = tokens * k;
            int[] topk = new int[a];
            for (int t = 0; t < tokens; t++) {
                System.arraycopy(rnd.ints(0, experts).distinct().limit(k).toArray(), 0, topk, t * k, k);
            }
            DeviceBuffer off = keep(ctx.alloc(4L * (experts + 1))), pt = keep(ctx.alloc(4L * a)), sp = keep(ctx.alloc(4L * a));
            DeviceBuffer act = keep(ctx.alloc(4L * experts)), na = keep(ctx.alloc(4));
            ops.permute(keep(ctx.alloc(4L * a).upload(topk)), a, k, experts, off, pt, sp, act, na);
            TileSchedule ts = TileSchedule.of(off.ints(experts + 1), Geometries.MMA_TILE);
            DeviceBuffer te = keep(ctx.alloc(4L * ts.size()).upload(ts.expert())), tr = keep(ctx.alloc(4L * ts.size()).upload(ts.row0()));
            DeviceBuffer tn = keep(ctx.alloc(4L * ts.size()).upload(ts.rows()));
            DeviceBuffer x = randomF32((long) tokens * hidden), y = keep(ctx.floats((long) a * 2 * inter));
            double us = timer.medianMicros(2, 10, i -> ops.int4GroupedGemm(gu, guW, guS, ts.size(), te, tr, tn, x, hidden, pt, y, 2 * inter));
            perf.computeBound("int4 grouped gemm (mma.sync) gate_up, 2048 tok", us, 2.0 * a * 2 * inter * hidden);
            us = timer.medianMicros(2, 10, i -> ops.int4GroupedGemmWgmma(gu, guW, guS, ts.size(), te, tr, tn, x, hidden, pt, y, 2 * inter));
            perf.computeBound("int4 grouped gemm (wgmma, experimental) gate_up, 2048 tok", us, 2.0 * a * 2 * inter * hidden);
        }
        close();
        // BF16 products
        {
            DeviceBuffer wo = randomBf16(7168L * 8192, 0.02f);
            DeviceBuffer x = randomF32(8192), y = keep(ctx.floats(7168));
            double us = timer.medianMicros(3, 50, i -> ops.bf16Gemv(wo, 7168, 8192, x, 8192, 1, y, 7168));
            perf.memoryBound("bf16 gemv o_proj 7168x8192, 1 tok", us, 2.0 * 7168 * 8192);
            DeviceBuffer lm = randomBf16(163_840L * 7168, 0.02f);
            DeviceBuffer xl = randomF32(4L * 7168), yl = keep(ctx.floats(4L * 163_840));
            us = timer.medianMicros(2, 20, i -> ops.bf16Gemv(lm, 163_840, 7168, xl, 7168, 4, yl, 163_840));
            perf.memoryBound("bf16 gemv lm_head 163840x7168, 4 tok", us, 2.0 * 163_840 * 7168);
            DeviceBuffer xp = randomF32(4096L * 8192), yp = keep(ctx.floats(4096L * 7168));
            us = timer.medianMicros(2, 10, i -> ops.bf16Gemm(wo, 7168, 8192, xp, 8192, 4096, yp, 7168));
            perf.computeBound("bf16 gemm (mma.sync) o_proj, 4096 tok", us, 2.0 * 4096 * 7168 * 8192);
            us = timer.medianMicros(2, 10, i -> ops.bf16GemmWgmma(wo, 7168, 8192, xp, 8192, 4096, yp, 7168));
            perf.computeBound("bf16 gemm (wgmma, experimental) o_proj, 4096 tok", us, 2.0 * 4096 * 7168 * 8192);
            DeviceBuffer logits = randomF32(8L * 163_840), out = keep(ctx.alloc(32));
            DeviceBuffer u = keep(ctx.floats(8).upload(new float[] {.1f, .2f, .3f, .4f, .5f, .6f, .7f, .8f}));
            us = timer.medianMicros(3, 20, i -> ops.argmax(logits, 8, 163_840, out));
            perf.memoryBound("argmax 8x163840", us, 4.0 * 8 * 163_840);
            us = timer.medianMicros(3, 20, i -> ops.sampleTopP(logits, 8, 163_840, 0.7f, 0.9f, u, out));
            perf.latency("sample_top_p 8x163840 (bisection)", us);
        }
        close();
        // MLA decode over the paged cache: 32 sequences x 8192 positions (302 MB of latents)
        {
            int batch = 32, len = 8192, page = 64, heads = 64, maxBlocks = len / page;
            int width = Geometries.MLA_KV_RANK + Geometries.MLA_ROPE;
            DeviceBuffer cache = randomBf16((long) batch * len * width, 1f);
            int[] table = new int[batch * maxBlocks];
            List<Integer> phys = new ArrayList<>();
            for (int i = 0; i < table.length; i++) {
                phys.add(i);
            }
            java.util.Collections.shuffle(phys, rnd);
            for (int i = 0; i < table.length; i++) {
                table[i] = phys.get(i);
            }
            int[] lens = new int[batch];
            java.util.Arrays.fill(lens, len);
            DeviceBuffer ql = randomF32((long) batch * heads * 512), qp = randomF32((long) batch * heads * 64);
            DeviceBuffer o = keep(ctx.floats((long) batch * heads * 512));
            DeviceBuffer tb = keep(ctx.alloc(4L * table.length).upload(table)), lb = keep(ctx.alloc(4L * batch).upload(lens));
            for (boolean tensorCores : new boolean[] {false, true}) {
                Geometries.MlaDecodePlan plan = tensorCores ? Geometries.mlaDecodeMma(heads, batch, len, ctx.multiprocessors())
                        : Geometries.mlaDecode(heads, batch, len, ctx.multiprocessors());
                DeviceBuffer ml = keep(ctx.floats(plan.maxNormFloats(batch, heads))), acc = keep(ctx.floats(plan.partialFloats(batch, heads)));
                double us = timer.medianMicros(3, 30, i -> ops.mlaDecode(plan, ql, qp, 64, heads, cache, tb, maxBlocks, page, lb, 0.1447f, ml, acc, o));
                perf.memoryBound("mla decode " + (tensorCores ? "mma.sync" : "fp32") + ", 32 seq x 8192", us, 2.0 * batch * len * width);
            }
        }
        close();
        // MLA prefill (naive form, CUDA cores)
        {
            int tokens = 512, heads = 64;
            DeviceBuffer q = randomF32((long) tokens * heads * 192), kv = randomF32((long) tokens * heads * 256);
            DeviceBuffer kpe = randomF32((long) tokens * 64), o = keep(ctx.floats((long) tokens * heads * 128));
            double us = timer.medianMicros(1, 5, i -> ops.mlaPrefill(q, tokens, kv, kpe, heads, 128, 64, 128, 0, 0.1447f, o));
            perf.computeBound("mla prefill attention (fp32 cores), 512 tok", us, 2.0 * heads * (192 + 128) * tokens * (tokens + 1) / 2.0);
        }
        close();
    }
}
