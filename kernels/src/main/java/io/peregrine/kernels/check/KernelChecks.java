package io.peregrine.kernels.check;

import static io.peregrine.kernels.reference.ScalarReference.bf16;
import static io.peregrine.kernels.reference.ScalarReference.relError;
import static io.peregrine.kernels.reference.ScalarReference.toBf16;

import io.peregrine.engine.backend.MoeRouter;
import io.peregrine.kernels.cuda.CudaContext;
import io.peregrine.kernels.cuda.DeviceBuffer;
import io.peregrine.kernels.cuda.DeviceOps;
import io.peregrine.kernels.cuda.Geometries;
import io.peregrine.kernels.cuda.KernelArgs;
import io.peregrine.kernels.layout.Int4ExpertStack;
import io.peregrine.kernels.layout.TileSchedule;
import io.peregrine.kernels.reference.SampleRowsReference;
import io.peregrine.kernels.reference.ScalarReference;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Every kernel against its scalar reference on fresh random inputs, outputs poisoned beforehand (NaN floats,
 * 0xDEADBEEF ints), relative-error bounds as in the device's METHOD.md: fp32 arithmetic 1e-4 (far under 1e-3),
 * bf16 tensor-core operands 1e-2, indices exact.
 */
final class KernelChecks {
    static final double FP32 = 1e-4;
    static final double BF16_OPERANDS = 1e-2;

    private final CudaContext ctx;
    private final DeviceOps ops;
    private final Random rnd;
    private final PrintStream out;
    private final List<DeviceBuffer> owned = new ArrayList<>();
    int failures;
    int checks;

    KernelChecks(DeviceOps ops, long seed, PrintStream out) {
        this.ops = ops;
        this.ctx = ops.context();
        this.rnd = new Random(seed);
        this.out = out;
    }

    void runAll() {
        try {
            rmsNorm();
            rope();
            siluMul();
            embedding();
            bf16Gemv();
            bf16GemvHeads();
            bf16GemvTransposedHeads();
            bf16Gemm();
            router();
            moeDecodeBlock();
            moeHeldExperts();
            int4GroupedGemm();
            mlaCacheAndDecode();
            mlaPrefill();
            argmaxAndTopP();
            sampleRows();
            visionOps();
        } finally {
            owned.forEach(DeviceBuffer::close);
            owned.clear();
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    private float[] gauss(int n, double sd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextGaussian() * sd);
        }
        return a;
    }

    private short[] bf16s(int n, double sd) {
        short[] a = new short[n];
        for (int i = 0; i < n; i++) {
            a[i] = toBf16((float) (rnd.nextGaussian() * sd));
        }
        return a;
    }

    private DeviceBuffer up(float[] a) {
        return keep(ctx.floats(a.length).upload(a));
    }

    private DeviceBuffer up(int[] a) {
        return keep(ctx.alloc(4L * a.length).upload(a));
    }

    private DeviceBuffer up(short[] a) {
        return keep(ctx.alloc(2L * a.length).upload(a));
    }

    private DeviceBuffer outF(long n) {
        return keep(ctx.floats(n).poison(DeviceBuffer.POISON_F32));
    }

    private DeviceBuffer outI(long n) {
        return keep(ctx.alloc(4 * n).poison(DeviceBuffer.POISON_I32));
    }

    private DeviceBuffer keep(DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    private void report(String name, double err, double bound) {
        checks++;
        boolean ok = err <= bound;  // NaN and infinity fail
        if (!ok) {
            failures++;
        }
        out.printf("%-4s %-34s rel.err %.3e  (bound %.0e)%n", ok ? "ok" : "FAIL", name, err, bound);
    }

    private void reportExact(String name, int mismatches, int total) {
        checks++;
        if (mismatches != 0) {
            failures++;
        }
        out.printf("%-4s %-34s %d of %d differ%n", mismatches == 0 ? "ok" : "FAIL", name, mismatches, total);
    }

    // ---- checks --------------------------------------------------------------------------------------------

    void rmsNorm() {
        int rows = 5, dim = 7168;
        float[] x = gauss(rows * dim, 2), w = gauss(dim, 1);
        DeviceBuffer y = outF((long) rows * dim);
        ops.rmsNorm(up(x), dim, rows, dim, up(w), 1e-5f, y, dim);
        report("rms_norm 5x7168", relError(y.floats(rows * dim), ScalarReference.rmsNorm(x, rows, dim, w, 1e-5f)), FP32);
    }

    static float[] yarnInvFreq() {
        // spec §3.3 with K2.5's numbers: dim 64, theta 50000, factor 64, L 4096, beta 32 / 1
        float[] f = new float[32];
        double low = Math.max(Math.floor(64 * Math.log(4096 / (32 * 2 * Math.PI)) / (2 * Math.log(50000))), 0);
        double high = Math.min(Math.ceil(64 * Math.log(4096 / (1 * 2 * Math.PI)) / (2 * Math.log(50000))), 63);
        for (int i = 0; i < 32; i++) {
            double extra = Math.pow(50000, -2.0 * i / 64);
            double ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
            double mask = 1 - ramp;
            f[i] = (float) (extra / 64 * (1 - mask) + extra * mask);
        }
        return f;
    }

    void rope() {
        int tokens = 3, heads = 4, hs = 192;
        float[] x = gauss(tokens * heads * hs, 1);
        int[] pos = {0, 1 + rnd.nextInt(1000), rnd.nextInt(262_144)};
        float[] inv = yarnInvFreq();
        DeviceBuffer xb = up(x);
        ops.ropeInterleaved(xb, tokens, heads * hs, heads, hs, 128, up(pos), up(inv), 32, 1f);
        float[] ref = ScalarReference.ropeInterleaved(x, tokens, heads, hs, 128, pos, inv, 1f);
        report("rope_interleaved (yarn, 3 pos)", relError(xb.floats(x.length), ref), FP32);
    }

    void siluMul() {
        int rows = 3, inter = 2048;
        float[] gu = gauss(rows * 2 * inter, 2);
        DeviceBuffer y = outF((long) rows * inter);
        ops.siluMul(up(gu), y, rows, inter);
        report("silu_mul 3x2048", relError(y.floats(rows * inter), ScalarReference.siluMul(gu, rows, inter)), FP32);
    }

    void embedding() {
        int vocab = 1000, dim = 7168;
        short[] table = bf16s(vocab * dim, 1);
        int[] ids = {rnd.nextInt(vocab), rnd.nextInt(vocab), vocab - 1, 0};
        DeviceBuffer y = outF((long) ids.length * dim);
        ops.embedding(up(ids), ids.length, up(table), vocab, dim, y);
        report("embedding_gather", relError(y.floats(ids.length * dim), ScalarReference.embedding(ids, table, dim)), 0);
    }

    void bf16Gemv() {
        int rows = 1003, cols = 7168, n = 5;
        short[] w = bf16s(rows * cols, 0.02);
        float[] x = gauss(n * cols, 1);
        DeviceBuffer y = outF((long) n * rows);
        ops.bf16Gemv(up(w), rows, cols, up(x), cols, n, y, rows);
        report("bf16_gemv 1003x7168, 5 tokens", relError(y.floats(n * rows), ScalarReference.bf16Matmul(w, rows, cols, x, n)), FP32);
    }

    void bf16GemvHeads() {
        // o_h = o_lat_h · W_UV_h^T: kv_b rows [256h+128, 256h+256), 4 heads, 2 tokens
        int heads = 4, kv = 512, tokens = 2;
        short[] kvb = bf16s(heads * 256 * kv, 0.05);
        float[] olat = gauss(tokens * heads * kv, 1);
        DeviceBuffer y = outF((long) tokens * heads * 128);
        DeviceBuffer wb = up(kvb);
        ops.bf16GemvHeads(wb.at(2L * 128 * kv), 128, kv, 256L * kv, up(olat), heads * kv, kv, tokens, y, heads * 128, 128, heads);
        float[] ref = new float[tokens * heads * 128];
        for (int h = 0; h < heads; h++) {
            short[] band = Arrays.copyOfRange(kvb, (256 * h + 128) * kv, (256 * h + 256) * kv);
            for (int t = 0; t < tokens; t++) {
                float[] r = ScalarReference.bf16Matmul(band, 128, kv, Arrays.copyOfRange(olat, (t * heads + h) * kv, (t * heads + h + 1) * kv), 1);
                System.arraycopy(r, 0, ref, (t * heads + h) * 128, 128);
            }
        }
        report("bf16_gemv per head (W_UV)", relError(y.floats(ref.length), ref), FP32);
    }

    void bf16GemvTransposedHeads() {
        // q_lat_h = q_nope_h · W_UK_h: kv_b rows [256h, 256h+128), q [t][h][192] with q_nope first
        int heads = 4, kv = 512, tokens = 3;
        short[] kvb = bf16s(heads * 256 * kv, 0.05);
        float[] q = gauss(tokens * heads * 192, 1);
        DeviceBuffer y = outF((long) tokens * heads * kv);
        ops.bf16GemvTransposedHeads(up(kvb), 128, kv, 256L * kv, up(q), 192, heads * 192, y, kv, heads * kv, heads, tokens);
        float[] ref = new float[tokens * heads * kv];
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                short[] band = Arrays.copyOfRange(kvb, 256 * h * kv, (256 * h + 128) * kv);
                float[] r = ScalarReference.bf16MatmulTransposed(band, 128, kv, Arrays.copyOfRange(q, (t * heads + h) * 192, (t * heads + h) * 192 + 128));
                System.arraycopy(r, 0, ref, (t * heads + h) * kv, kv);
            }
        }
        report("bf16_gemv_t per head (W_UK)", relError(y.floats(ref.length), ref), FP32);
    }

    void bf16Gemm() {
        int rows = 300, cols = 1536, n = 130;
        short[] w = bf16s(rows * cols, 0.02);
        float[] x = gauss(n * cols, 1);
        DeviceBuffer y = outF((long) n * rows);
        ops.bf16Gemm(up(w), rows, cols, up(x), cols, n, y, rows);
        float[] ref = ScalarReference.bf16Matmul(w, rows, cols, x, n);
        report("bf16_gemm_mma 300x1536, 130 tok", relError(y.floats(n * rows), ref), BF16_OPERANDS);
        DeviceBuffer yw = outF((long) n * rows);
        ops.bf16GemmWgmma(up(w), rows, cols, up(x), cols, n, yw, rows);
        report("bf16_gemm_wgmma (experimental)", relError(yw.floats(n * rows), ref), BF16_OPERANDS);
    }

    void router() {
        int tokens = 4, experts = 384, k = 8;
        float[] logits = gauss(tokens * experts, 2);
        float[] bias = gauss(experts, 0.1);
        DeviceBuffer idx = outI((long) tokens * k);
        DeviceBuffer w = outF((long) tokens * k);
        ops.router(up(logits), tokens, new MoeRouter(experts, 1, 1, k, true, 2.827f), up(bias), idx, w);
        float[] rw = new float[tokens * k];
        int[] ri = ScalarReference.route(logits, tokens, experts, bias, k, 2.827f, rw);
        int[] gi = idx.ints(tokens * k);
        int diff = 0;
        for (int i = 0; i < ri.length; i++) {
            diff += ri[i] == gi[i] ? 0 : 1;
        }
        reportExact("moe_router top-8 of 384", diff, ri.length);
        report("moe_router weights", relError(w.floats(tokens * k), rw), FP32);
        routerNaN();
    }

    /**
     * Rows the router must survive without an out-of-bounds write or an invalid id reaching the permutation: NaN
     * biased scores rank below every number (ties to the lower index), NaN scores weigh 0. Expected ids by hand.
     */
    /** Three router rows over 384 experts and their expected top-8 ids; row 2's only expectation: never {@code top}. */
    record RouterNaNRows(float[] logits, float[] bias, int[] want0, int[] want1, int top) {
        static final int EXPERTS = 384, K = 8;

        static RouterNaNRows of(Random rnd) {
            float nan = Float.NaN;
            float[] logits = new float[3 * EXPERTS];
            float[] bias = new float[EXPERTS];
            Arrays.fill(logits, 0, EXPERTS, nan);                                    // row 0: all NaN
            Arrays.fill(logits, EXPERTS, 2 * EXPERTS, nan);                          // row 1: three numbers, the rest NaN
            logits[EXPERTS + 100] = 1f;
            logits[EXPERTS + 7] = 3f;
            logits[EXPERTS + 250] = -1f;
            int top = 300;                                                           // row 2: NaN bias on its best expert
            for (int e = 0; e < EXPERTS; e++) {                                      // (NaN in row 1 too: no effect there)
                logits[2 * EXPERTS + e] = (float) (rnd.nextGaussian() * 2);
            }
            logits[2 * EXPERTS + top] = 10f;
            bias[top] = nan;
            return new RouterNaNRows(logits, bias, new int[] {0, 1, 2, 3, 4, 5, 6, 7}, new int[] {7, 100, 250, 0, 1, 2, 3, 4}, top);
        }
    }

    void routerNaN() {
        int experts = RouterNaNRows.EXPERTS, k = RouterNaNRows.K;
        RouterNaNRows rows = RouterNaNRows.of(rnd);
        float[] logits = rows.logits(), bias = rows.bias();
        int[] want0 = rows.want0(), want1 = rows.want1();
        int top = rows.top();
        DeviceBuffer idx = outI(3L * k), w = outF(3L * k), off = outI(experts + 1), permTok = outI(3L * k);
        DeviceBuffer srcPos = outI(3L * k), active = outI(experts), nAct = outI(1);
        ops.router(up(logits), 3, new MoeRouter(experts, 1, 1, k, true, 2.827f), up(bias), idx, w);
        ops.permute(idx, 3 * k, k, experts, off, permTok, srcPos, active, nAct);
        int[] got = idx.ints(3 * k);
        float[] gw = w.floats(3 * k);
        int diff = 0;
        for (int j = 0; j < k; j++) {
            diff += got[j] == want0[j] ? 0 : 1;
            diff += got[k + j] == want1[j] ? 0 : 1;
            diff += got[2 * k + j] == top ? 1 : 0;
        }
        float[] rw = new float[3 * k];
        int[] ref = ScalarReference.route(logits, 3, experts, bias, k, 2.827f, rw);
        for (int i = 0; i < ref.length; i++) {
            diff += ref[i] == got[i] ? 0 : 1;
        }
        reportExact("moe_router NaN rows (ids by hand)", diff, 4 * k);
        report("moe_router NaN rows weights", relError(gw, rw), FP32);
        int[] sp = srcPos.ints(3 * k);
        int bad = nAct.ints(1)[0] < 1 ? 1 : 0;
        for (int p : sp) {
            bad += p < 0 || p >= 3 * k ? 1 : 0;
        }
        reportExact("moe_permute after NaN rows", bad, 3 * k + 1);
        permuteInvalidIds();
    }

    /** Ids outside [0, E) from a host-written list get no row (src_pos -1) and add nothing in the combine. */
    void permuteInvalidIds() {
        int experts = 16, k = 2, dim = 64;
        int[] topk = {5, -1, experts, 2};  // two tokens: token 0 = {5, -1}, token 1 = {16, 2}
        float[] w = {0.5f, 7f, 9f, 0.25f};
        DeviceBuffer off = outI(experts + 1), permTok = outI(4), srcPos = outI(4), active = outI(experts), nAct = outI(1);
        ops.permute(up(topk), 4, k, experts, off, permTok, srcPos, active, nAct);
        int[] sp = srcPos.ints(4), offs = off.ints(experts + 1), act = active.ints(2);
        int bad = 0;
        bad += sp[1] == -1 ? 0 : 1;
        bad += sp[2] == -1 ? 0 : 1;
        bad += offs[experts] == 2 ? 0 : 1;
        bad += nAct.ints(1)[0] == 2 && act[0] == 2 && act[1] == 5 ? 0 : 1;
        bad += sp[0] == offs[5] && sp[3] == offs[2] ? 0 : 1;
        if (sp[0] < 0 || sp[0] > 1 || sp[3] < 0 || sp[3] > 1) {
            reportExact("moe_permute invalid ids dropped", Math.max(bad, 1), 5);
            return;
        }
        float[] yPerm = gauss(2 * dim, 1);
        float[] shared = gauss(2 * dim, 1);
        DeviceBuffer o = outF(2L * dim);
        ops.combine(up(yPerm), dim, srcPos, up(w), k, up(shared), o, 2, dim);
        float[] ref = new float[2 * dim];
        for (int d = 0; d < dim; d++) {
            ref[d] = shared[d] + w[0] * yPerm[sp[0] * dim + d];
            ref[dim + d] = shared[dim + d] + w[3] * yPerm[sp[3] * dim + d];
        }
        reportExact("moe_permute invalid ids dropped", bad, 5);
        report("moe_combine skips dropped slots", relError(o.floats(2 * dim), ref), FP32);
    }

    /** A whole routed-expert block at small sizes: router → permute → grouped GEMV ×2 with SwiGLU → combine. */
    void moeDecodeBlock() {
        int tokens = 3, experts = 16, k = 8, hidden = 256, inter = 64;
        Int4ExpertStack gu = new Int4ExpertStack(experts, 2 * inter, hidden);
        Int4ExpertStack dn = new Int4ExpertStack(experts, hidden, inter);
        int[] guW = randomWords((int) (gu.wordsPerExpert() * experts));
        short[] guS = bf16s((int) (gu.scalesPerExpert() * experts), 0.01);
        int[] dnW = randomWords((int) (dn.wordsPerExpert() * experts));
        short[] dnS = bf16s((int) (dn.scalesPerExpert() * experts), 0.01);
        float[] x = gauss(tokens * hidden, 1);
        float[] logits = gauss(tokens * experts, 2);
        float[] bias = gauss(experts, 0.1);
        float[] shared = gauss(tokens * hidden, 1);
        int a = tokens * k;
        DeviceBuffer idx = outI(a), w = outF(a);
        ops.router(up(logits), tokens, new MoeRouter(experts, 1, 1, k, true, 2.827f), up(bias), idx, w);
        DeviceBuffer off = outI(experts + 1), permTok = outI(a), srcPos = outI(a), active = outI(experts), nAct = outI(1);
        ops.permute(idx, a, k, experts, off, permTok, srcPos, active, nAct);
        DeviceBuffer guOut = outF((long) a * 2 * inter), act = outF((long) a * inter), yPerm = outF((long) a * hidden);
        DeviceBuffer guWb = up(guW), guSb = up(guS), dnWb = up(dnW), dnSb = up(dnS);
        ops.int4GroupedGemv(gu, guWb, guSb, active, nAct, off, up(x), hidden, permTok, guOut, 2 * inter, tokens, k);
        ops.siluMul(guOut, act, a, inter);
        ops.int4GroupedGemv(dn, dnWb, dnSb, active, nAct, off, act, inter, KernelArgs.NULL, yPerm, hidden, tokens, k);
        DeviceBuffer o = outF((long) tokens * hidden);
        ops.combine(yPerm, hidden, srcPos, w, k, up(shared), o, tokens, hidden);
        // permutation structure
        int[] gi = idx.ints(a), offs = off.ints(experts + 1), pt = permTok.ints(a), sp = srcPos.ints(a);
        int bad = 0;
        boolean[] seen = new boolean[a];
        for (int i = 0; i < a; i++) {
            int p = sp[i];
            if (p < 0 || p >= a || seen[p] || pt[p] != i / k || p < offs[gi[i]] || p >= offs[gi[i] + 1]) {
                bad++;
            } else {
                seen[p] = true;
            }
        }
        reportExact("moe_permute (bijection, ranges)", bad, a);
        // reference of the whole block
        float[] rw = w.floats(a);
        float[] expertOut = new float[a * hidden];
        for (int i = 0; i < a; i++) {
            int e = gi[i];
            float[] xt = Arrays.copyOfRange(x, (i / k) * hidden, (i / k + 1) * hidden);
            float[] g = ScalarReference.int4Matmul(slice(guW, e, gu.wordsPerExpert()), slice(guS, e, gu.scalesPerExpert()), 2 * inter, hidden, xt, 1);
            float[] s = ScalarReference.siluMul(g, 1, inter);
            float[] d = ScalarReference.int4Matmul(slice(dnW, e, dn.wordsPerExpert()), slice(dnS, e, dn.scalesPerExpert()), hidden, inter, s, 1);
            System.arraycopy(d, 0, expertOut, i * hidden, hidden);
        }
        float[] ref = ScalarReference.combine(expertOut, rw, tokens, k, shared, hidden);
        report("moe block: int4 gemv+swiglu+combine", relError(o.floats(tokens * hidden), ref), FP32);
    }

    /**
     * {@code CudaBackend.moe}'s kernels: a rank holding experts 5..12 of 16, their addresses in a table written by
     * {@code pg_expert_table_set} (one buffer per matrix, as uploaded), router → permute → grouped gate‖up over the
     * table → SiLU·up → grouped down → {@code pg_moe_combine_held} onto the shared output; INT4 and BF16 experts.
     */
    void moeHeldExperts() {
        int tokens = 5, experts = 16, k = 4, hidden = 256, inter = 64, first = 5, held = 8;
        float[] x = gauss(tokens * hidden, 1);
        float[] logits = gauss(tokens * experts, 2);
        float[] bias = gauss(experts, 0.1);
        float[] shared = gauss(tokens * hidden, 1);
        int a = tokens * k;
        DeviceBuffer idx = outI(a), w = outF(a);
        ops.router(up(logits), tokens, new MoeRouter(experts, 1, 1, k, true, 2.827f), up(bias), idx, w);
        DeviceBuffer off = outI(experts + 1), permTok = outI(a), srcPos = outI(a), active = outI(experts), nAct = outI(1);
        ops.permute(idx, a, k, experts, off, permTok, srcPos, active, nAct);
        int[] gi = idx.ints(a);
        float[] rw = w.floats(a);
        for (boolean int4 : new boolean[] {true, false}) {
            DeviceBuffer table = keep(ctx.alloc(8L * held * (int4 ? 6 : 3)));
            int[][] words = new int[3 * held][];
            short[][] halves = new short[3 * held][];
            for (int e = 0; e < held; e++) {
                DeviceBuffer[] ptrs = new DeviceBuffer[int4 ? 6 : 3];
                for (int m = 0; m < 3; m++) {
                    int rows = m == 2 ? hidden : inter, cols = m == 2 ? inter : hidden;
                    if (int4) {
                        words[3 * e + m] = randomWords(rows * cols / 8);
                        halves[3 * e + m] = bf16s(rows * cols / 32, 0.01);
                        ptrs[2 * m] = up(words[3 * e + m]);
                        ptrs[2 * m + 1] = up(halves[3 * e + m]);
                    } else {
                        halves[3 * e + m] = bf16s(rows * cols, 0.05);
                        ptrs[m] = up(halves[3 * e + m]);
                    }
                }
                ops.expertTableSet(table, e, held, ptrs);
            }
            DeviceBuffer gateUp = outF((long) a * 2 * inter), yPerm = outF((long) a * hidden);
            ops.moeExpertGemv(int4, table, held, first, 0, 2, inter, hidden, active, nAct, off, up(x), hidden, permTok,
                    gateUp, 2 * inter, inter, tokens, k, experts);
            ops.siluMulRows(gateUp, 2 * inter, gateUp.at(4L * inter), 2 * inter, gateUp, 2 * inter, a, inter);
            ops.moeExpertGemv(int4, table, held, first, 2, 1, hidden, inter, active, nAct, off, gateUp, 2 * inter,
                    KernelArgs.NULL, yPerm, hidden, 0, tokens, k, experts);
            DeviceBuffer o = outF((long) tokens * hidden);
            ops.combineHeld(yPerm, hidden, srcPos, idx, w, k, first, held, up(shared), hidden, o, hidden, tokens, hidden);
            float[] expertOut = new float[a * hidden];
            for (int i = 0; i < a; i++) {
                int e = gi[i] - first;
                if (e < 0 || e >= held) {
                    continue;
                }
                float[] xt = Arrays.copyOfRange(x, (i / k) * hidden, (i / k + 1) * hidden);
                float[][] gu = new float[2][];
                for (int m = 0; m < 2; m++) {
                    gu[m] = int4 ? ScalarReference.int4Matmul(words[3 * e + m], halves[3 * e + m], inter, hidden, xt, 1)
                            : ScalarReference.bf16Matmul(halves[3 * e + m], inter, hidden, xt, 1);
                }
                float[] both = new float[2 * inter];
                System.arraycopy(gu[0], 0, both, 0, inter);
                System.arraycopy(gu[1], 0, both, inter, inter);
                float[] h = ScalarReference.siluMul(both, 1, inter);
                float[] d = int4 ? ScalarReference.int4Matmul(words[3 * e + 2], halves[3 * e + 2], hidden, inter, h, 1)
                        : ScalarReference.bf16Matmul(halves[3 * e + 2], hidden, inter, h, 1);
                System.arraycopy(d, 0, expertOut, i * hidden, hidden);
            }
            float[] ref = ScalarReference.combineHeld(expertOut, rw, gi, tokens, k, first, held, shared, hidden);
            report("moe held experts " + (int4 ? "int4" : "bf16") + ": table gemv+swiglu+ordered combine",
                    relError(o.floats(tokens * hidden), ref), FP32);
        }
    }

    void int4GroupedGemm() {
        int tokens = 70, experts = 8, k = 4, rows = 192, cols = 512;
        Int4ExpertStack st = new Int4ExpertStack(experts, rows, cols);
        int[] wds = randomWords((int) (st.wordsPerExpert() * experts));
        short[] sc = bf16s((int) (st.scalesPerExpert() * experts), 0.01);
        int a = tokens * k;
        int[] topk = new int[a];
        for (int t = 0; t < tokens; t++) {
            int[] perm = rnd.ints(0, experts).distinct().limit(k).toArray();
            System.arraycopy(perm, 0, topk, t * k, k);
        }
        DeviceBuffer off = outI(experts + 1), permTok = outI(a), srcPos = outI(a), active = outI(experts), nAct = outI(1);
        ops.permute(up(topk), a, k, experts, off, permTok, srcPos, active, nAct);
        TileSchedule ts = TileSchedule.of(off.ints(experts + 1), Geometries.MMA_TILE);
        float[] x = gauss(tokens * cols, 1);
        DeviceBuffer wdb = up(wds), scb = up(sc), xb = up(x), teb = up(ts.expert()), trb = up(ts.row0()), tnb = up(ts.rows());
        int[] sp = srcPos.ints(a);
        float[] ref = new float[a * rows];
        for (int i = 0; i < a; i++) {
            int e = topk[i];
            float[] r = ScalarReference.int4Matmul(slice(wds, e, st.wordsPerExpert()), slice(sc, e, st.scalesPerExpert()), rows, cols,
                    Arrays.copyOfRange(x, (i / k) * cols, (i / k + 1) * cols), 1);
            System.arraycopy(r, 0, ref, i * rows, rows);
        }
        for (boolean wgmma : new boolean[] {false, true}) {
            DeviceBuffer y = outF((long) a * rows);
            if (wgmma) {
                ops.int4GroupedGemmWgmma(st, wdb, scb, ts.size(), teb, trb, tnb, xb, cols, permTok, y, rows);
            } else {
                ops.int4GroupedGemm(st, wdb, scb, ts.size(), teb, trb, tnb, xb, cols, permTok, y, rows);
            }
            float[] got = y.floats(a * rows);
            float[] reordered = new float[a * rows];
            for (int i = 0; i < a; i++) {
                System.arraycopy(got, sp[i] * rows, reordered, i * rows, rows);
            }
            report("int4_grouped_gemm_" + (wgmma ? "wgmma (experimental)" : "mma") + " (" + ts.size() + " tiles)",
                    relError(reordered, ref), BF16_OPERANDS);
        }
    }

    void mlaCacheAndDecode() {
        int batch = 2, heads = 64, page = 64, maxBlocks = 20;
        int[] lens = {1000, 37};
        int blocksTotal = batch * maxBlocks;
        // scrambled physical blocks
        List<Integer> phys = new ArrayList<>();
        for (int i = 0; i < blocksTotal; i++) {
            phys.add(i);
        }
        java.util.Collections.shuffle(phys, rnd);
        int[] table = phys.stream().mapToInt(Integer::intValue).toArray();
        int width = Geometries.MLA_KV_RANK + Geometries.MLA_ROPE;
        DeviceBuffer cache = keep(ctx.alloc(2L * blocksTotal * page * width).poison(0x7fc07fc0));
        short[] hostCache = new short[blocksTotal * page * width];
        // write every position of both sequences through the cache-write kernel
        int total = lens[0] + lens[1];
        float[] ckv = gauss(total * 512, 1);
        float[] kpe = gauss(total * 64, 1);
        int[] slots = new int[total];
        int t = 0;
        for (int b = 0; b < batch; b++) {
            for (int s = 0; s < lens[b]; s++, t++) {
                slots[t] = table[b * maxBlocks + s / page] * page + s % page;
                for (int i = 0; i < 512; i++) {
                    hostCache[slots[t] * width + i] = toBf16(ckv[t * 512 + i]);
                }
                for (int i = 0; i < 64; i++) {
                    hostCache[slots[t] * width + 512 + i] = toBf16(kpe[t * 64 + i]);
                }
            }
        }
        ops.mlaCacheWrite(up(ckv), 512, up(kpe), 64, up(slots), total, cache);
        short[] back = cache.shorts(hostCache.length);
        int diff = 0;
        for (int s : slots) {
            for (int i = 0; i < width; i++) {
                diff += back[s * width + i] == hostCache[s * width + i] ? 0 : 1;
            }
        }
        reportExact("mla_cache_write (bf16 bits)", diff, total * width);
        float[] qLat = gauss(batch * heads * 512, 1);
        float[] qPe = gauss(batch * heads * 64, 1);
        float scale = 0.1446796258f;
        float[] ref = new float[batch * heads * 512];
        for (int b = 0; b < batch; b++) {
            float[] r = ScalarReference.mlaDecode(Arrays.copyOfRange(qLat, b * heads * 512, (b + 1) * heads * 512),
                    Arrays.copyOfRange(qPe, b * heads * 64, (b + 1) * heads * 64), heads, 512, 64, hostCache,
                    Arrays.copyOfRange(table, b * maxBlocks, (b + 1) * maxBlocks), page, lens[b], scale);
            System.arraycopy(r, 0, ref, b * heads * 512, r.length);
        }
        DeviceBuffer ql = up(qLat), qp = up(qPe), tb = up(table), lb = up(lens);
        for (boolean tensorCores : new boolean[] {false, true}) {
            Geometries.MlaDecodePlan plan = tensorCores
                    ? Geometries.mlaDecodeMma(heads, batch, maxBlocks * page, ctx.multiprocessors())
                    : Geometries.mlaDecode(heads, batch, maxBlocks * page, ctx.multiprocessors());
            DeviceBuffer ml = outF(plan.maxNormFloats(batch, heads)), acc = outF(plan.partialFloats(batch, heads));
            DeviceBuffer o = outF((long) batch * heads * 512);
            ops.mlaDecode(plan, ql, qp, 64, heads, cache, tb, maxBlocks, page, lb, scale, ml, acc, o);
            report("mla_decode " + (tensorCores ? "mma.sync" : "fp32") + " (" + plan.splits() + " splits)",
                    relError(o.floats(ref.length), ref), tensorCores ? BF16_OPERANDS : FP32);
        }
    }

    void mlaPrefill() {
        int tokens = 20, start = 30, heads = 4, nope = 128, rope = 64, vDim = 128;
        int s = start + tokens;
        float[] q = gauss(tokens * heads * (nope + rope), 1);
        float[] kv = gauss(s * heads * (nope + vDim), 1);
        float[] kpe = gauss(s * rope, 1);
        DeviceBuffer o = outF((long) tokens * heads * vDim);
        ops.mlaPrefill(up(q), tokens, up(kv), up(kpe), heads, nope, rope, vDim, start, 0.1446796258f, o);
        float[] ref = ScalarReference.mlaPrefill(q, tokens, start, kv, kpe, heads, nope, rope, vDim, 0.1446796258f);
        report("mla_prefill_attention (causal)", relError(o.floats(ref.length), ref), FP32);
    }

    /**
     * The backend's sampler against its scalar twin (itself tested against the engine's host sampler on the CPU): eight
     * rows over the K2.5 vocabulary mixing greedy, penalties from counts, temperature, top-k, top-p, min-p, constraint
     * masks and top logprobs. Ids and counts exact; a draw within rounding of a token boundary may pick the neighbour
     * (the sums run in another order), which would show as one differing random row.
     */
    void sampleRows() {
        int rows = 8, vocab = 163_840, stride = vocab + 16, words = (vocab + 63) / 64, maxTop = 20;
        float[] logits = gauss(rows * stride, 3);
        // temperature, top_p, top_k, min_p, presence, frequency, repetition, logprobs, counts slot, mask row
        double[][] mix = {
            {0, 1, 0, 0, 0, 0, 1, -1, -1, -1},
            {0, 1, 0, 0, 0, 0, 1.3, 3, 0, -1},
            {0.8, 0.9, 0, 0, 0, 0, 1, -1, -1, -1},
            {1.0, 1, 50, 0.02, 0, 0, 1, 5, -1, -1},
            {0.7, 1, 0, 0, 0, 0, 1, 0, -1, 0},
            {1.2, 0.95, 40, 0, 0.5, 0.3, 1.1, 2, 1, -1},
            {0, 1, 0, 0, 0, 0, 1, 20, -1, 1},
            {1.0, 1, 0, 0, 0, 0, 1, -1, -1, -1},
        };
        int[] counts = new int[2 * vocab];
        for (int i = 0; i < 400; i++) {
            counts[rnd.nextInt(2 * vocab)] = 0x80000000 | rnd.nextInt(3);
        }
        long[] masks = new long[2 * words];
        for (int i = 0; i < masks.length; i++) {
            masks[i] = rnd.nextLong() & rnd.nextLong();
        }
        double[] params = new double[rows * DeviceOps.SAMPLE_PARAMS];
        double[] draws = new double[rows];
        for (int r = 0; r < rows; r++) {
            double[] m = mix[r];
            draws[r] = rnd.nextDouble();
            double[] p = {r, m[8], m[9], m[7], m[2], m[0], m[1], m[3], m[4], m[5], m[6], m[0] > 0 ? draws[r] : 0};
            System.arraycopy(p, 0, params, r * DeviceOps.SAMPLE_PARAMS, p.length);
        }
        DeviceBuffer dCounts = up(counts);
        DeviceBuffer dMasks = keep(ctx.alloc(8L * masks.length).upload(masks, masks.length));
        DeviceBuffer dParams = keep(ctx.alloc(8L * params.length).upload(params, params.length));
        DeviceBuffer dWeights = keep(ctx.alloc(8L * rows * vocab));
        DeviceBuffer o = outI((long) rows * (2 + 2 * maxTop));
        ops.sampleRows(up(logits), stride, vocab, rows, dParams, dMasks, words, dCounts, dWeights, maxTop, o);
        int[] got = o.ints(rows * (2 + 2 * maxTop));
        int[] gotCounts = dCounts.ints(2 * vocab);
        int ids = 0, alternatives = 0;
        double lpErr = 0;
        for (int r = 0; r < rows; r++) {
            double[] m = mix[r];
            int slot = (int) m[8], maskRow = (int) m[9], top = (int) m[7];
            int[] slotCounts = slot < 0 ? null : Arrays.copyOfRange(counts, slot * vocab, (slot + 1) * vocab);
            long[] mask = maskRow < 0 ? null : Arrays.copyOfRange(masks, maskRow * words, (maskRow + 1) * words);
            int[] topIds = new int[maxTop];
            float[] lp = new float[maxTop + 1];
            var rule = new SampleRowsReference.Rule(m[0], m[1], (int) m[2], m[3], m[4], m[5], m[6]);
            int want = SampleRowsReference.sample(logits, r * stride, vocab, mask, slotCounts, rule,
                    m[0] > 0 ? draws[r] : 0, top, topIds, lp);
            ids += got[r] == want ? 0 : 1;
            if (slot >= 0) {
                System.arraycopy(slotCounts, 0, counts, slot * vocab, vocab);
            }
            if (top >= 0 && got[r] == want) {
                lpErr = Math.max(lpErr, Math.abs(Float.intBitsToFloat(got[rows + r]) - lp[0]));
                int at = 2 * rows + r * 2 * maxTop;
                for (int j = 0; j < maxTop; j++) {
                    alternatives += got[at + j] == topIds[j] ? 0 : 1;
                    if (topIds[j] >= 0) {
                        lpErr = Math.max(lpErr, Math.abs(Float.intBitsToFloat(got[at + maxTop + j]) - lp[j + 1]));
                    }
                }
            }
        }
        int countDiff = 0;
        for (int i = 0; i < counts.length; i++) {
            countDiff += counts[i] == gotCounts[i] ? 0 : 1;
        }
        reportExact("sample_rows ids (8 rule mixes)", ids, rows);
        reportExact("sample_rows top-logprob ids", alternatives, rows * maxTop);
        report("sample_rows logprobs (abs)", lpErr, 1e-5);
        reportExact("sample_rows counts after", countDiff, counts.length);
    }

    void argmaxAndTopP() {
        int rows = 8, vocab = 163_840;
        float[] logits = gauss(rows * vocab, 3);
        DeviceBuffer lb = up(logits);
        DeviceBuffer am = outI(rows);
        ops.argmax(lb, rows, vocab, am);
        int[] g = am.ints(rows);
        int diff = 0;
        for (int r = 0; r < rows; r++) {
            diff += g[r] == ScalarReference.argmax(logits, r * vocab, vocab) ? 0 : 1;
        }
        reportExact("argmax over 163840", diff, rows);
        float[] u = new float[rows];
        for (int r = 0; r < rows; r++) {
            u[r] = rnd.nextFloat();
        }
        DeviceBuffer tok = outI(rows);
        ops.sampleTopP(lb, rows, vocab, 0.7f, 0.9f, up(u), tok);
        int[] st = tok.ints(rows);
        diff = 0;
        int nearEdge = 0;
        for (int r = 0; r < rows; r++) {
            if (st[r] == ScalarReference.sampleTopP(logits, r * vocab, vocab, 0.7f, 0.9f, u[r])) {
                continue;
            }
            // a different token is right only if it is in the nucleus and u lies within fp32 rounding of its interval
            double[] iv = ScalarReference.topPInterval(logits, r * vocab, vocab, 0.7f, 0.9f, st[r]);
            if (iv != null && u[r] >= iv[0] - 1e-5 && u[r] < iv[1] + 1e-5) {
                nearEdge++;
            } else {
                diff++;
            }
        }
        if (nearEdge > 0) {
            out.printf("     sample_top_p: %d draw(s) within 1e-5 of a token boundary picked the neighbour%n", nearEdge);
        }
        reportExact("sample_top_p (T 0.7, p 0.9)", diff, rows);
        argmaxAndTopPNaN();
    }

    /**
     * Rows with NaN (counted as -inf), no number at all, or an infinity: the id is always inside the vocabulary and
     * is the one written by hand below; the last row (every even logit NaN) is sampled and compared like the others.
     */
    /** Six rows over the real vocabulary, the expected argmax of each, and the draws for top-p (T 0.7, p 0.9). */
    record ArgmaxNaNRows(float[] logits, int[] want, float[] u) {
        static final int VOCAB = 163_840, ROWS = 6;

        static ArgmaxNaNRows of(Random rnd) {
            int vocab = VOCAB;
            float nan = Float.NaN;
            float[] x = new float[ROWS * vocab];
            Arrays.fill(x, 0, vocab, nan);                                          // 0: all NaN -> 0
            Arrays.fill(x, vocab, 2 * vocab, nan);                                  // 1: two numbers -> 123456
            x[vocab + 99] = -7f;
            x[vocab + 123_456] = -5f;
            for (int i = 0; i < vocab; i++) {                                       // 2: NaN first, planted max -> 77777
                x[2 * vocab + i] = (float) (rnd.nextGaussian() * 3);
            }
            x[2 * vocab] = nan;
            x[2 * vocab + 5] = nan;
            x[2 * vocab + 77_777] = 50f;
            Arrays.fill(x, 3 * vocab, 4 * vocab, Float.NEGATIVE_INFINITY);          // 3: all -inf -> 0
            Arrays.fill(x, 4 * vocab, 5 * vocab, nan);                              // 4: +inf among NaN -> 4242
            x[4 * vocab + 4242] = Float.POSITIVE_INFINITY;
            x[4 * vocab + 9000] = Float.POSITIVE_INFINITY;
            for (int i = 0; i < vocab; i++) {                                       // 5: every even logit NaN
                x[5 * vocab + i] = i % 2 == 0 ? nan : (float) (rnd.nextGaussian() * 3);
            }
            int[] want = {0, 123_456, 77_777, 0, 4242, ScalarReference.argmax(x, 5 * vocab, vocab)};
            return new ArgmaxNaNRows(x, want, new float[] {0.3f, 0.99999994f, 0.5f, 0.7f, 0.1f, rnd.nextFloat()});
        }
    }

    /**
     * Rows with NaN (counted as -inf), no number at all, or an infinity: the id is always inside the vocabulary and
     * is the one written by hand; the last row (every even logit NaN) is sampled and compared like the others.
     */
    void argmaxAndTopPNaN() {
        int vocab = ArgmaxNaNRows.VOCAB, rows = ArgmaxNaNRows.ROWS;
        ArgmaxNaNRows nanRows = ArgmaxNaNRows.of(rnd);
        float[] x = nanRows.logits();
        int[] want = nanRows.want();
        DeviceBuffer lb = up(x);
        DeviceBuffer am = outI(rows);
        ops.argmax(lb, rows, vocab, am);
        int[] got = am.ints(rows);
        int diff = 0;
        for (int r = 0; r < rows; r++) {
            diff += got[r] == want[r] ? 0 : 1;
        }
        reportExact("argmax NaN/inf rows (ids by hand)", diff, rows);
        float[] u = nanRows.u();
        DeviceBuffer tok = outI(rows);
        ops.sampleTopP(lb, rows, vocab, 0.7f, 0.9f, up(u), tok);
        int[] st = tok.ints(rows);
        diff = 0;
        for (int r = 0; r < rows - 1; r++) {
            diff += st[r] == want[r] ? 0 : 1;  // each of these rows has a one-token nucleus (or no softmax at all)
        }
        int r = rows - 1;
        if (st[r] != ScalarReference.sampleTopP(x, r * vocab, vocab, 0.7f, 0.9f, u[r])) {
            double[] iv = ScalarReference.topPInterval(x, r * vocab, vocab, 0.7f, 0.9f, st[r]);
            diff += iv != null && u[r] >= iv[0] - 1e-5 && u[r] < iv[1] + 1e-5 ? 0 : 1;
        }
        reportExact("sample_top_p NaN/inf rows", diff, rows);
    }

    private int[] randomWords(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = rnd.nextInt();
        }
        return a;
    }

    private static int[] slice(int[] a, int e, long per) {
        return Arrays.copyOfRange(a, (int) (e * per), (int) ((e + 1) * per));
    }

    private static short[] slice(short[] a, int e, long per) {
        return Arrays.copyOfRange(a, (int) (e * per), (int) ((e + 1) * per));
    }

    static float bf(short s) {
        return bf16(s);
    }

    /** The vision tower's kernels (vision.cuh) at K2.5's widths, and the segment attention at both head sizes. */
    void visionOps() {
        int rows = 5, dim = 1152;
        float[] x = gauss(rows * dim, 2), w = gauss(dim, 1), b = gauss(dim, 1);
        for (int i = 0; i < x.length; i++) {
            x[i] += 3; // an offset mean: centring matters
        }
        DeviceBuffer y = outF((long) rows * dim);
        ops.layerNorm(up(x), dim, rows, dim, up(w), up(b), 1e-5f, y, dim);
        report("layer_norm 5x1152", relError(y.floats(rows * dim), ScalarReference.layerNorm(x, rows, dim, w, b, 1e-5f)), FP32);

        DeviceBuffer xb = up(x);
        ops.addBiasRows(up(b), xb, dim, rows, dim);
        float[] biased = x.clone();
        for (int i = 0; i < biased.length; i++) {
            biased[i] += b[i % dim];
        }
        report("add_bias_rows 5x1152", relError(xb.floats(rows * dim), biased), FP32);

        int inter = 4320;
        float[] g = gauss(3 * inter, 2);
        for (int form = 0; form < 2; form++) {
            DeviceBuffer gy = outF(3L * inter);
            ops.geluRows(up(g), inter, gy, inter, 3, inter, form);
            report("gelu_rows " + (form == 0 ? "tanh" : "erf") + " 3x4320",
                    relError(gy.floats(3 * inter), ScalarReference.gelu(g, form == 0)), FP32);
        }

        int tokens = 7, heads = 16, hd = 72, pairs = 36, cols = 3 * heads * hd;
        float[] qkv = gauss(tokens * cols, 1);
        float[] cos = new float[tokens * pairs], sin = new float[tokens * pairs];
        for (int i = 0; i < cos.length; i++) {
            double a = rnd.nextDouble() * 400 - 200;
            cos[i] = (float) Math.cos(a);
            sin[i] = (float) Math.sin(a);
        }
        DeviceBuffer qb = up(qkv);
        ops.rotatePairs(qb, cols, tokens, heads, hd, up(cos), pairs, up(sin), pairs, pairs);
        report("rotate_pairs 7x16x36 (q of a packed qkv)", relError(qb.floats(qkv.length),
                ScalarReference.rotatePairs(qkv, tokens, cols, heads, hd, cos, sin, pairs)), FP32);

        for (int headDim : new int[] {16, 72}) {
            int h = headDim == 16 ? 2 : 16;
            int[] seg = {0, 70, 70, 200, 201};
            int n = seg[seg.length - 1], c = h * headDim;
            float[] q = gauss(n * c, 1), k = gauss(n * c, 1), v = gauss(n * c, 1);
            DeviceBuffer o = outF((long) n * c);
            float scale = (float) (1 / Math.sqrt(headDim));
            ops.attentionSegments(up(q), c, up(k), c, up(v), c, h, headDim, up(seg), seg.length - 1, 130, scale, o, c);
            report("attention_segments d" + headDim + " [70,0,130,1]", relError(o.floats(n * c),
                    ScalarReference.attentionSegments(q, k, v, h, headDim, seg, scale)), FP32);
        }
    }
}
