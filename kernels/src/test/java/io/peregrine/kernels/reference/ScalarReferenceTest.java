package io.peregrine.kernels.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.MoeBlock;
import io.peregrine.engine.backend.MoeRouter;
import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The references the device check trusts, checked against hand results and against each other. */
class ScalarReferenceTest {

    @Test
    void routerChoosesByBiasedScoreButWeighsByTheUnbiasedOne() {
        // sigmoid(0) = 0.5 for all; the bias alone decides the choice
        float[] logits = {0, 0, 0, 0};
        float[] bias = {0.1f, 0.3f, 0.0f, 0.2f};
        float[] w = new float[2];
        int[] idx = ScalarReference.route(logits, 1, 4, bias, 2, 2.827f, w);
        assertArrayEquals(new int[] {1, 3}, idx);
        assertEquals(2.827f / 2, w[0], 1e-6f);
        assertEquals(2.827f / 2, w[1], 1e-6f);
    }

    @Test
    void topPKeepsTheShortestHeadReachingTheMass() {
        // probabilities 0.5, 0.3, 0.2 (in index order 1, 0, 2 after the logits below)
        float[] logits = {(float) Math.log(0.3), (float) Math.log(0.5), (float) Math.log(0.2)};
        // top_p 0.7: keep {1: 0.5, 0: 0.3}, kept mass 0.8, in index order 0 then 1
        assertEquals(0, ScalarReference.sampleTopP(logits, 0, 3, 1f, 0.7f, 0.0));
        assertEquals(0, ScalarReference.sampleTopP(logits, 0, 3, 1f, 0.7f, 0.3 / 0.8 - 1e-6));
        assertEquals(1, ScalarReference.sampleTopP(logits, 0, 3, 1f, 0.7f, 0.3 / 0.8 + 1e-6));
        assertEquals(1, ScalarReference.sampleTopP(logits, 0, 3, 1f, 0.4f, 0.99));  // only the head survives
        assertEquals(2, ScalarReference.sampleTopP(logits, 0, 3, 1f, 1f, 0.999));   // everything kept
        double[] iv = ScalarReference.topPInterval(logits, 0, 3, 1f, 0.7f, 1);
        assertEquals(0.3 / 0.8, iv[0], 1e-6);
        assertEquals(1.0, iv[1], 1e-6);
        assertEquals(null, ScalarReference.topPInterval(logits, 0, 3, 1f, 0.7f, 2));
    }

    @Test
    void routerIsTheEngineRouterWithOneGroup() {
        // the device check trusts this reference; the engine's MoeRouter is the CPU backend's routing
        Random rnd = new Random(5);
        int experts = 384, k = 8;
        MoeRouter engine = new MoeRouter(experts, 1, 1, k, true, 2.827f);
        for (int round = 0; round < 50; round++) {
            float[] logits = new float[experts];
            float[] bias = new float[experts];
            for (int e = 0; e < experts; e++) {
                logits[e] = (float) (rnd.nextGaussian() * 2);
                bias[e] = (float) (rnd.nextGaussian() * 0.1);
            }
            int[] wantIdx = new int[k];
            float[] wantW = new float[k];
            engine.route(logits, 0, bias, wantIdx, wantW);
            float[] w = new float[k];
            assertArrayEquals(wantIdx, ScalarReference.route(logits, 1, experts, bias, k, 2.827f, w));
            for (int j = 0; j < k; j++) {
                assertEquals(wantW[j], w[j], 1e-5f * wantW[j]);
            }
        }
    }

    @Test
    void heldCombineAddsOnlyThisRanksExpertsOntoTheShared() {
        // one token, k = 3 on experts 5, 1, 3; the rank holds 1..3
        float[] expertOut = {100, 200, 10, 20, 1, 2};
        float[] w = {0.5f, 2f, 3f};
        float[] out = ScalarReference.combineHeld(expertOut, w, new int[] {5, 1, 3}, 1, 3, 1, 3, new float[] {7, 8}, 2);
        assertArrayEquals(new float[] {7 + 20 + 3, 8 + 40 + 6}, out);
        assertArrayEquals(new float[] {23, 46}, ScalarReference.combineHeld(expertOut, w, new int[] {5, 1, 3}, 1, 3, 1,
                3, null, 2));
    }

    /**
     * The reference the device check holds {@code CudaBackend.moe}'s kernels to (route, INT4 products, SwiGLU, held
     * combine) is the CPU backend's {@code moe}, on a shard's sub-range of experts with a token count that leaves
     * some held experts without rows.
     */
    @Test
    void theMoeBlockReferenceIsTheCpuBackends() {
        Random rnd = new Random(9);
        int experts = 10, k = 3, hidden = 64, inter = 32, first = 3, held = 5, tokens = 4;
        int[][] words = new int[3 * held][];
        short[][] scales = new short[3 * held][];
        List<LinearWeight> gate = new ArrayList<>(), up = new ArrayList<>(), down = new ArrayList<>();
        try (CpuBackend cpu = new CpuBackend(1); Arena arena = Arena.ofConfined()) {
            for (int e = 0; e < held; e++) {
                for (int m = 0; m < 3; m++) {
                    int rows = m == 2 ? hidden : inter, cols = m == 2 ? inter : hidden;
                    words[3 * e + m] = rnd.ints(rows * cols / 8).toArray();
                    scales[3 * e + m] = new short[rows * cols / 32];
                    for (int i = 0; i < scales[3 * e + m].length; i++) {
                        scales[3 * e + m][i] = ScalarReference.toBf16((float) (0.01 + 0.05 * rnd.nextDouble()));
                    }
                    LinearWeight lw = cpu.upload(int4(arena, words[3 * e + m], scales[3 * e + m], rows, cols));
                    (m == 0 ? gate : m == 1 ? up : down).add(lw);
                }
            }
            float[] logits = new float[tokens * experts];
            float[] bias = new float[experts];
            float[] x = new float[tokens * hidden];
            for (int i = 0; i < logits.length; i++) {
                logits[i] = (float) (2 * rnd.nextGaussian());
            }
            for (int e = 0; e < experts; e++) {
                bias[e] = (float) (0.1 * rnd.nextGaussian());
            }
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            MoeBlock block = new MoeBlock(new MoeRouter(experts, 1, 1, k, true, 2.827f), cpu.vector(bias),
                    cpu.stackExperts(first, gate, up, down), null, null, null);
            Activation out = cpu.allocate(tokens, hidden);
            Activation xa = cpu.allocate(tokens, hidden);
            Activation la = cpu.allocate(tokens, experts);
            cpu.copyIn(x, 0, xa);
            cpu.copyIn(logits, 0, la);
            cpu.moe(block, xa, la, cpu.moeScratch(block, tokens), out);
            float[] got = new float[tokens * hidden];
            cpu.copyOut(out, got, 0);

            float[] w = new float[tokens * k];
            int[] idx = ScalarReference.route(logits, tokens, experts, bias, k, 2.827f, w);
            float[] expertOut = new float[tokens * k * hidden];
            for (int i = 0; i < tokens * k; i++) {
                int e = idx[i] - first;
                if (e < 0 || e >= held) {
                    continue;
                }
                float[] xt = java.util.Arrays.copyOfRange(x, (i / k) * hidden, (i / k + 1) * hidden);
                float[] both = new float[2 * inter];
                System.arraycopy(ScalarReference.int4Matmul(words[3 * e], scales[3 * e], inter, hidden, xt, 1), 0, both, 0, inter);
                System.arraycopy(ScalarReference.int4Matmul(words[3 * e + 1], scales[3 * e + 1], inter, hidden, xt, 1), 0,
                        both, inter, inter);
                float[] h = ScalarReference.siluMul(both, 1, inter);
                System.arraycopy(ScalarReference.int4Matmul(words[3 * e + 2], scales[3 * e + 2], hidden, inter, h, 1), 0,
                        expertOut, i * hidden, hidden);
            }
            float[] ref = ScalarReference.combineHeld(expertOut, w, idx, tokens, k, first, held, null, hidden);
            assertTrue(ScalarReference.relError(got, ref) < 1e-5, "relative error " + ScalarReference.relError(got, ref));
        }
    }

    private static Int4Group32 int4(Arena arena, int[] words, short[] scales, int rows, int cols) {
        MemorySegment packed = arena.allocate(4L * words.length, 4);
        MemorySegment.copy(words, 0, packed, ValueLayout.JAVA_INT, 0, words.length);
        MemorySegment scale = arena.allocate(2L * scales.length, 2);
        MemorySegment.copy(scales, 0, scale, ValueLayout.JAVA_SHORT, 0, scales.length);
        return new Int4Group32("e", rows, cols, new Tensor("e.weight_packed", DType.I32, new long[] {rows, cols / 8}, packed),
                new Tensor("e.weight_scale", DType.BF16, new long[] {rows, cols / 32}, scale));
    }

    @Test
    void nanCountsAsMinusInfinityInArgmaxRouterAndTopP() {
        float nan = Float.NaN;
        assertEquals(0, ScalarReference.argmax(new float[] {nan, nan, nan}, 0, 3));
        assertEquals(2, ScalarReference.argmax(new float[] {nan, -3, 1, nan, 1}, 0, 5));
        assertEquals(0, ScalarReference.argmax(new float[] {Float.NEGATIVE_INFINITY, nan, Float.NEGATIVE_INFINITY}, 0, 3));
        // a row without a number, or with an infinity, has no softmax: top-p gives the argmax
        assertEquals(0, ScalarReference.sampleTopP(new float[] {nan, nan, nan}, 0, 3, 0.7f, 0.9f, 0.5));
        assertEquals(1, ScalarReference.sampleTopP(new float[] {nan, Float.POSITIVE_INFINITY, 2, Float.POSITIVE_INFINITY}, 0, 4, 1f, 1f, 0.9));
        assertArrayEquals(new double[] {0, 1}, ScalarReference.topPInterval(new float[] {nan, nan}, 0, 2, 1f, 1f, 0));
        // NaN entries get no probability: with two equal numbers, every draw picks one of them
        float[] row = {nan, 0, nan, 0};
        for (double u : new double[] {0, 0.25, 0.4999, 0.5, 0.75, 0.9999}) {
            assertEquals(u < 0.5 ? 1 : 3, ScalarReference.sampleTopP(row, 0, 4, 1f, 1f, u), "u " + u);
        }
        // router: all NaN -> the k lowest experts weighing 0; NaN below every number
        float[] w = new float[3];
        assertArrayEquals(new int[] {0, 1, 2}, ScalarReference.route(new float[] {nan, nan, nan, nan, nan}, 1, 5,
                new float[5], 3, 2.5f, w));
        assertArrayEquals(new float[] {0, 0, 0}, w);
        assertArrayEquals(new int[] {3, 1, 0}, ScalarReference.route(new float[] {nan, 0, nan, 2, nan}, 1, 5,
                new float[5], 3, 1f, w));
        float s3 = (float) (1 / (1 + Math.exp(-2))), s1 = 0.5f;
        assertEquals(s3 / (s3 + s1), w[0], 1e-6f);
        assertEquals(s1 / (s3 + s1), w[1], 1e-6f);
        assertEquals(0f, w[2]);
        // a NaN bias makes an expert rank last, though its score still weighs
        assertArrayEquals(new int[] {1, 0}, ScalarReference.route(new float[] {0, 0, 5}, 1, 3,
                new float[] {0, 0.1f, nan}, 2, 1f, w));
    }

    @Test
    void absorbedDecodeEqualsTheNaiveFormOnExpandedKeysAndValues() {
        Random rnd = new Random(11);
        int heads = 3, kvRank = 16, rope = 4, nope = 6, vDim = 5, len = 13, page = 4;
        float scale = 0.3f;
        // c_kv and k_pe per position (bf16-exact), and per-head up-projections W_UK [nope, kvRank], W_UV [vDim, kvRank]
        float[][] ckv = new float[len][kvRank];
        float[][] kpe = new float[len][rope];
        float[][][] wuk = new float[heads][nope][kvRank];
        float[][][] wuv = new float[heads][vDim][kvRank];
        for (float[] r : ckv) fill(r, rnd);
        for (float[] r : kpe) fill(r, rnd);
        for (float[][] m : wuk) for (float[] r : m) fill(r, rnd);
        for (float[][] m : wuv) for (float[] r : m) fill(r, rnd);
        float[] q = new float[heads * (nope + rope)];
        fill(q, rnd);
        // the paged cache: physical blocks in a scrambled order
        int[] blockTable = {3, 0, 2, 1};
        short[] cache = new short[4 * page * (kvRank + rope)];
        for (int s = 0; s < len; s++) {
            int slot = blockTable[s / page] * page + s % page;
            for (int i = 0; i < kvRank; i++) cache[slot * (kvRank + rope) + i] = ScalarReference.toBf16(ckv[s][i]);
            for (int i = 0; i < rope; i++) cache[slot * (kvRank + rope) + kvRank + i] = ScalarReference.toBf16(kpe[s][i]);
        }
        // naive form: query is the last position
        float[] kv = new float[len * heads * (nope + vDim)];
        float[] kPeFlat = new float[len * rope];
        for (int s = 0; s < len; s++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < nope; i++) kv[(s * heads + h) * (nope + vDim) + i] = dot(wuk[h][i], ckv[s]);
                for (int i = 0; i < vDim; i++) kv[(s * heads + h) * (nope + vDim) + nope + i] = dot(wuv[h][i], ckv[s]);
            }
            System.arraycopy(kpe[s], 0, kPeFlat, s * rope, rope);
        }
        float[] naive = ScalarReference.mlaPrefill(q, 1, len - 1, kv, kPeFlat, heads, nope, rope, vDim, scale);
        // absorbed form
        float[] qLat = new float[heads * kvRank];
        float[] qPe = new float[heads * rope];
        for (int h = 0; h < heads; h++) {
            for (int c = 0; c < kvRank; c++) {
                double s = 0;
                for (int i = 0; i < nope; i++) s += (double) q[h * (nope + rope) + i] * wuk[h][i][c];
                qLat[h * kvRank + c] = (float) s;
            }
            System.arraycopy(q, h * (nope + rope) + nope, qPe, h * rope, rope);
        }
        float[] lat = ScalarReference.mlaDecode(qLat, qPe, heads, kvRank, rope, cache, blockTable, page, len, scale);
        float[] absorbed = new float[heads * vDim];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < vDim; i++) {
                float[] o = new float[kvRank];
                System.arraycopy(lat, h * kvRank, o, 0, kvRank);
                absorbed[h * vDim + i] = dot(wuv[h][i], o);
            }
        }
        assertTrue(ScalarReference.relError(absorbed, naive) < 1e-5, "rel error " + ScalarReference.relError(absorbed, naive));
    }

    @Test
    void int4ProductUsesTheOffsetBinaryNibbles() {
        // one row, 32 columns: word 0 holds nibbles 0..7 = values -8..-1, the rest are 8 (= 0)
        int[] words = {0x76543210, 0x88888888, 0x88888888, 0x88888888};
        short[] scales = {ScalarReference.toBf16(0.5f)};
        float[] x = new float[32];
        java.util.Arrays.fill(x, 1f);
        float[] y = ScalarReference.int4Matmul(words, scales, 1, 32, x, 1);
        assertEquals(0.5f * (-8 - 7 - 6 - 5 - 4 - 3 - 2 - 1), y[0], 0f);
    }

    @Test
    void relErrorTreatsAnUnwrittenPoisonedOutputAsInfinite() {
        assertEquals(Double.POSITIVE_INFINITY, ScalarReference.relError(new float[] {1, Float.NaN}, new float[] {1, 2}));
        assertEquals(0, ScalarReference.relError(new float[] {1, 2}, new float[] {1, 2}));
        assertEquals(0x3f80, ScalarReference.toBf16(1f) & 0xffff);
        assertEquals(0x3f81, ScalarReference.toBf16(Float.intBitsToFloat(0x3f80c000)) & 0xffff);  // ties round to even
    }

    private static void fill(float[] a, Random rnd) {
        for (int i = 0; i < a.length; i++) {
            a[i] = ScalarReference.bf16(ScalarReference.toBf16((float) rnd.nextGaussian()));
        }
    }

    private static float dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return (float) s;
    }

    /** The vision references against the engine's CPU backend (the tower's reference), on odd sizes. */
    @Test
    void visionReferencesAgreeWithTheCpuBackend() {
        Random rnd = new Random(24);
        try (io.peregrine.engine.backend.cpu.CpuBackend cpu = new io.peregrine.engine.backend.cpu.CpuBackend(1)) {
            int rows = 3, dim = 37;
            float[] x = new float[rows * dim], w = new float[dim], b = new float[dim];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian() * 3 + 1;
            }
            for (int i = 0; i < dim; i++) {
                w[i] = (float) rnd.nextGaussian();
                b[i] = (float) rnd.nextGaussian();
            }
            var xa = cpu.allocate(rows, dim);
            cpu.copyIn(x, 0, xa);
            var ya = cpu.allocate(rows, dim);
            cpu.layerNorm(xa, cpu.vector(w), cpu.vector(b), 1e-5f, ya);
            assertTrue(ScalarReference.relError(get(cpu, ya), ScalarReference.layerNorm(x, rows, dim, w, b, 1e-5f)) < 1e-5);
            cpu.gelu(xa, io.peregrine.engine.backend.Gelu.ERF, ya);
            assertTrue(ScalarReference.relError(get(cpu, ya), ScalarReference.gelu(x, false)) < 1e-5);
            cpu.gelu(xa, io.peregrine.engine.backend.Gelu.TANH, ya);
            assertTrue(ScalarReference.relError(get(cpu, ya), ScalarReference.gelu(x, true)) < 1e-5);

            int heads = 3, hd = 8;
            int[] seg = {0, 4, 4, 11};
            int n = 11, c = heads * hd;
            float[] q = new float[n * c], k = new float[n * c], v = new float[n * c];
            for (int i = 0; i < q.length; i++) {
                q[i] = (float) rnd.nextGaussian();
                k[i] = (float) rnd.nextGaussian();
                v[i] = (float) rnd.nextGaussian();
            }
            var out = cpu.allocate(n, c);
            var segs = cpu.allocateIndices(seg.length);
            cpu.copyIn(seg, 0, segs);
            cpu.attentionSegments(put(cpu, q, n, c), put(cpu, k, n, c), put(cpu, v, n, c), heads, segs, 0.3f, out);
            assertTrue(ScalarReference.relError(get(cpu, out), ScalarReference.attentionSegments(q, k, v, heads, hd, seg, 0.3f)) < 1e-5);

            float[] cos = new float[n * 4], sin = new float[n * 4];
            for (int i = 0; i < cos.length; i++) {
                cos[i] = (float) Math.cos(i * 0.7);
                sin[i] = (float) Math.sin(i * 0.7);
            }
            var qa = put(cpu, q, n, c);
            cpu.rotatePairs(qa, heads, hd, put(cpu, cos, n, 4), put(cpu, sin, n, 4));
            assertTrue(ScalarReference.relError(get(cpu, qa), ScalarReference.rotatePairs(q, n, c, heads, hd, cos, sin, 4)) < 1e-6);
        }
    }

    private static io.peregrine.engine.backend.Activation put(io.peregrine.engine.backend.Backend b, float[] a, int rows, int cols) {
        var t = b.allocate(rows, cols);
        b.copyIn(a, 0, t);
        return t;
    }

    private static float[] get(io.peregrine.engine.backend.Backend b, io.peregrine.engine.backend.Activation a) {
        float[] out = new float[a.rows() * a.cols()];
        b.copyOut(a, out, 0);
        return out;
    }
}
