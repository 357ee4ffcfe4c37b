package io.peregrine.kernels.check;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.kernels.cuda.CudaBackend;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;

/**
 * Every {@link io.peregrine.engine.backend.Backend} method of {@link CudaBackend} against {@link CpuBackend} (the
 * reference) on fresh random shapes and inputs. Host outputs are poisoned with NaN on both sides (an element one side
 * writes and the other does not is a failure) and the CUDA side also poisons its device outputs before each launch
 * ({@link CudaBackend.Options#poisonOutputs}). Bounds as in the device's METHOD.md: relative error
 * {@code ‖cuda − cpu‖ / ‖cpu‖} at most {@value #FP32} for fp32 arithmetic, {@value #BF16_OPERANDS} where the
 * tensor-core option rounds activations to bf16; NaN never passes.
 */
public final class BackendChecks {
    static final double FP32 = 1e-4;
    static final double BF16_OPERANDS = 1e-2;

    private final Backend cuda;
    private final Backend tensorCores;
    private final CpuBackend cpu;
    private final Random rnd;
    private final PrintStream out;
    // shared: the CPU backend's pool threads read BF16 weights in place
    private final Arena arena = Arena.ofShared();
    public int checks;
    public int failures;

    /** @param cuda a CUDA backend with fp32 products; @param tensorCores one whose prefill products use the mma kernels */
    public BackendChecks(Backend cuda, Backend tensorCores, long seed, PrintStream out) {
        this.cuda = cuda;
        this.tensorCores = tensorCores;
        this.cpu = new CpuBackend(2);
        this.rnd = new Random(seed);
        this.out = out;
    }

    public void runAll() {
        try {
            for (int i = 0; i < 3; i++) {
                matmulBf16();
                matmulInt4();
            }
            matmulAll();
            matmulTransposed();
            matmulHeads(false);
            matmulHeads(true);
            rmsNorm();
            rope();
            siluMul();
            axpy();
            attentionNaive(1, 0);
            attentionNaive(7, 0);
            attentionNaive(5, 33);
            attentionAbsorbed(1);
            attentionAbsorbed(200);
            attentionAbsorbed(1000);
            tensorCoreProducts();
        } finally {
            cpu.close();
            arena.close();
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private float[] gauss(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }

    private static float[] nan(int n) {
        float[] a = new float[n];
        Arrays.fill(a, Float.NaN);
        return a;
    }

    private int pick(int lo, int hi) {
        return lo + rnd.nextInt(hi - lo + 1);
    }

    private Tensor bf16(String name, int rows, int cols) {
        MemorySegment s = arena.allocate(2L * rows * cols, 16);
        for (long i = 0; i < (long) rows * cols; i++) {
            float v = (float) (rnd.nextGaussian() / Math.sqrt(cols));
            s.setAtIndex(Tensor.BF16, i, (short) (Float.floatToRawIntBits(v) >>> 16));
        }
        return new Tensor(name, DType.BF16, new long[] {rows, cols}, s);
    }

    private Int4Group32 int4(String name, int rows, int cols) {
        MemorySegment p = arena.allocate(4L * rows * cols / 8, 16);
        MemorySegment s = arena.allocate(2L * rows * cols / 32, 16);
        for (long i = 0; i < (long) rows * cols / 8; i++) {
            p.setAtIndex(Tensor.I32, i, rnd.nextInt());
        }
        for (long i = 0; i < (long) rows * cols / 32; i++) {
            float v = (float) ((0.5 + rnd.nextDouble()) / (8 * Math.sqrt(cols)));
            s.setAtIndex(Tensor.BF16, i, (short) (Float.floatToRawIntBits(v) >>> 16));
        }
        return new Int4Group32(name, rows, cols,
                new Tensor(name + ".weight_packed", DType.I32, new long[] {rows, cols / 8}, p),
                new Tensor(name + ".weight_scale", DType.BF16, new long[] {rows, cols / 32}, s));
    }

    /** Relative L2 error over elements the reference wrote; an element written by one side only counts as NaN. */
    static double relError(float[] ref, float[] got) {
        if (ref.length != got.length) {
            return Double.NaN;
        }
        double d2 = 0;
        double r2 = 0;
        for (int i = 0; i < ref.length; i++) {
            boolean rn = Float.isNaN(ref[i]);
            if (rn != Float.isNaN(got[i]) || Float.isInfinite(got[i])) {
                return Double.NaN;
            }
            if (!rn) {
                double d = (double) got[i] - ref[i];
                d2 += d * d;
                r2 += (double) ref[i] * ref[i];
            }
        }
        return r2 == 0 ? (d2 == 0 ? 0 : Double.POSITIVE_INFINITY) : Math.sqrt(d2 / r2);
    }

    private void report(String what, float[] ref, float[] got, double bound) {
        double err = relError(ref, got);
        checks++;
        boolean ok = err <= bound;  // NaN fails
        if (!ok) {
            failures++;
        }
        out.printf("%-4s backend %-48s rel.err %.3e  (bound %.0e)%n", ok ? "ok" : "FAIL", what, err, bound);
    }

    // ---- checks ----------------------------------------------------------------------------------------------

    void matmulBf16() {
        int rows = pick(1, 300);
        int cols = 8 * pick(1, 96);
        int n = new int[] {1, 3, 17}[rnd.nextInt(3)];
        Tensor t = bf16("bf16", rows, cols);
        LinearWeight wc = cuda.upload(t);
        LinearWeight wr = cpu.upload(t);
        int row0 = rnd.nextInt(rows);
        int band = pick(1, rows - row0);
        int xOff = pick(0, 5);
        int xStride = cols + pick(0, 3);
        int yOff = pick(0, 5);
        int yStride = band + pick(0, 3);
        float[] x = gauss(xOff + n * xStride);
        float[] yr = nan(yOff + n * yStride);
        float[] yc = nan(yr.length);
        cpu.matmul(wr, row0, band, x, xOff, xStride, n, yr, yOff, yStride);
        cuda.matmul(wc, row0, band, x, xOff, xStride, n, yc, yOff, yStride);
        report("matmul bf16 [" + rows + "x" + cols + "] rows " + row0 + "+" + band + " n " + n, yr, yc, FP32);
    }

    void matmulInt4() {
        int rows = pick(1, 300);
        int cols = 32 * pick(1, 24);
        int n = new int[] {1, 5, 70}[rnd.nextInt(3)];
        Int4Group32 q = int4("int4", rows, cols);
        LinearWeight wc = cuda.upload(q);
        LinearWeight wr = cpu.upload(q);
        int xStride = cols + pick(0, 3);
        int yStride = rows + pick(0, 3);
        float[] x = gauss(n * xStride);
        float[] yr = nan(n * yStride);
        float[] yc = nan(yr.length);
        cpu.matmul(wr, 0, rows, x, 0, xStride, n, yr, 0, yStride);
        cuda.matmul(wc, 0, rows, x, 0, xStride, n, yc, 0, yStride);
        report("matmul int4 [" + rows + "x" + cols + "] n " + n, yr, yc, FP32);
        // a row band (the CPU backend multiplies whole INT4 weights only: its full product's rows are the reference)
        int row0 = rnd.nextInt(rows);
        int band = pick(1, rows - row0);
        float[] bandRef = nan(n * band);
        for (int t = 0; t < n; t++) {
            System.arraycopy(yr, t * yStride + row0, bandRef, t * band, band);
        }
        float[] bandGot = nan(n * band);
        cuda.matmul(wc, row0, band, x, 0, xStride, n, bandGot, 0, band);
        report("matmul int4 rows " + row0 + "+" + band + " n " + n, bandRef, bandGot, FP32);
    }

    void matmulAll() {
        int k = 5;
        LinearWeight[] wc = new LinearWeight[k];
        LinearWeight[] wr = new LinearWeight[k];
        float[][] xs = new float[k][];
        int[] ns = new int[k];
        float[][] yr = new float[k][];
        float[][] yc = new float[k][];
        for (int i = 0; i < k; i++) {
            int rows = pick(1, 200);
            if (i % 2 == 0) {
                Tensor t = bf16("all" + i, rows, 8 * pick(1, 40));
                wc[i] = cuda.upload(t);
                wr[i] = cpu.upload(t);
            } else {
                Int4Group32 q = int4("all" + i, rows, 32 * pick(1, 10));
                wc[i] = cuda.upload(q);
                wr[i] = cpu.upload(q);
            }
            ns[i] = i == 3 ? 0 : pick(1, 9);
            xs[i] = gauss(ns[i] * wr[i].cols());
            yr[i] = nan(ns[i] * wr[i].rows());
            yc[i] = nan(yr[i].length);
        }
        cpu.matmulAll(wr, xs, ns, yr);
        cuda.matmulAll(wc, xs, ns, yc);
        float[] r = Arrays.stream(yr).reduce(new float[0], BackendChecks::concat);
        float[] c = Arrays.stream(yc).reduce(new float[0], BackendChecks::concat);
        report("matmulAll 5 products (bf16, int4, one empty)", r, c, FP32);
    }

    private static float[] concat(float[] a, float[] b) {
        float[] o = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, o, a.length, b.length);
        return o;
    }

    void matmulTransposed() {
        int rows = pick(16, 400);
        int cols = 8 * pick(1, 80);
        Tensor t = bf16("t", rows, cols);
        LinearWeight wc = cuda.upload(t);
        LinearWeight wr = cpu.upload(t);
        int row0 = rnd.nextInt(rows / 2);
        int band = pick(1, rows - row0);
        float[] x = gauss(band + 3);
        float[] yr = nan(cols + 4);
        float[] yc = nan(cols + 4);
        cpu.matmulTransposed(wr, row0, band, x, 3, yr, 2);
        cuda.matmulTransposed(wc, row0, band, x, 3, yc, 2);
        report("matmulTransposed [" + rows + "x" + cols + "] rows " + row0 + "+" + band, yr, yc, FP32);
    }

    void matmulHeads(boolean transposed) {
        int heads = pick(1, 8);
        int nope = pick(1, 24);
        int v = pick(1, 24);
        int headRows = nope + v;
        int cols = 8 * pick(1, 12);
        Tensor t = bf16("heads", heads * headRows, cols);
        LinearWeight wc = cuda.upload(t);
        LinearWeight wr = cpu.upload(t);
        int row0 = transposed ? 0 : nope;
        int rows = transposed ? nope : v;
        int xLen = transposed ? rows : cols;
        int yLen = transposed ? cols : rows;
        int xStride = xLen + pick(0, 5);
        int yStride = yLen + pick(0, 5);
        float[] x = gauss(2 + heads * xStride);
        float[] yr = nan(1 + heads * yStride);
        float[] yc = nan(yr.length);
        cpu.matmulHeads(wr, transposed, heads, headRows, row0, rows, x, 2, xStride, yr, 1, yStride);
        cuda.matmulHeads(wc, transposed, heads, headRows, row0, rows, x, 2, xStride, yc, 1, yStride);
        report("matmulHeads " + (transposed ? "transposed " : "") + heads + " heads of " + headRows + "x" + cols, yr, yc, FP32);
    }

    void rmsNorm() {
        int n = pick(1, 9);
        int dim = pick(1, 3000);
        float[] w = gauss(dim);
        int xStride = dim + pick(0, 7);
        int outStride = dim + pick(0, 7);
        float[] x = gauss(1 + n * xStride);
        float[] yr = nan(3 + n * outStride);
        float[] yc = nan(yr.length);
        cpu.rmsNorm(x, 1, xStride, n, dim, w, 1e-6f, yr, 3, outStride);
        cuda.rmsNorm(x, 1, xStride, n, dim, w, 1e-6f, yc, 3, outStride);
        report("rmsNorm " + n + "x" + dim + " (strided)", yr, yc, FP32);
    }

    void rope() {
        int pairs = pick(1, 64);
        float[] inv = new float[pairs];
        for (int i = 0; i < pairs; i++) {
            inv[i] = (float) Math.pow(50000, -2.0 * i / (2 * pairs));
        }
        int off = pick(0, 9);
        float[] x = gauss(off + 2 * pairs + 3);
        float[] xr = x.clone();
        float[] xc = x.clone();
        int pos = pick(0, 300);
        cpu.ropeInterleaved(xr, off, pos, inv, 1.3f);
        cuda.ropeInterleaved(xc, off, pos, inv, 1.3f);
        report("ropeInterleaved " + pairs + " pairs at position " + pos, xr, xc, FP32);
    }

    void siluMul() {
        int len = pick(1, 5000);
        float[] g = gauss(len + 2);
        float[] u = gauss(len + 1);
        float[] yr = nan(len + 3);
        float[] yc = nan(len + 3);
        cpu.siluMul(g, u, yr, len);
        cuda.siluMul(g, u, yc, len);
        report("siluMul " + len, yr, yc, FP32);
        float[] gr = g.clone();
        float[] gc = g.clone();
        cpu.siluMul(gr, u, gr, len);
        cuda.siluMul(gc, u, gc, len);
        report("siluMul in place " + len, gr, gc, FP32);
    }

    void axpy() {
        int len = pick(1, 5000);
        float[] x = gauss(len + 4);
        float[] y = gauss(len + 6);
        float[] yr = y.clone();
        float[] yc = y.clone();
        cpu.axpy(0.7f, x, 4, yr, 6, len);
        cuda.axpy(0.7f, x, 4, yc, 6, len);
        report("axpy " + len + " (offsets)", yr, yc, FP32);
    }

    void attentionNaive(int tokens, int start) {
        int heads = pick(1, 6);
        int nope = pick(1, 32);
        int rope = pick(0, 16);
        int v = pick(1, 40);
        int positions = start + tokens;
        float[] q = gauss(tokens * heads * (nope + rope));
        float[] kv = gauss(positions * heads * (nope + v));
        float[] kPe = gauss(positions * rope);
        float[] yr = nan(tokens * heads * v);
        float[] yc = nan(yr.length);
        float scale = (float) (1 / Math.sqrt(nope + rope));
        cpu.attentionNaive(q, tokens, start, kv, kPe, heads, nope, rope, v, scale, yr);
        cuda.attentionNaive(q, tokens, start, kv, kPe, heads, nope, rope, v, scale, yc);
        report("attentionNaive " + tokens + " tokens from " + start + ", " + heads + " heads", yr, yc, FP32);
    }

    void attentionAbsorbed(int count) {
        int heads = pick(1, 8);
        int rank = pick(1, 96);
        int rope = pick(0, 16);
        int width = rank + rope;
        int slabSlots = count + pick(0, 50);
        float[] slab = gauss(slabSlots * width);
        int[] perm = new int[slabSlots];
        for (int i = 0; i < slabSlots; i++) {
            perm[i] = i;
        }
        for (int i = slabSlots - 1; i > 0; i--) {  // the sequence's slots scattered over the slab
            int j = rnd.nextInt(i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        int[] slots = Arrays.copyOf(perm, count);
        int qPeStride = rope + pick(0, 9);
        float[] qLat = gauss(2 + heads * rank);
        float[] qPe = gauss(1 + heads * qPeStride);
        float[] yr = nan(4 + heads * rank);
        float[] yc = nan(yr.length);
        float scale = (float) (1 / Math.sqrt(width));
        cpu.attentionAbsorbed(qLat, 2, qPe, 1, qPeStride, heads, rank, rope, slab, slots, count, scale, yr, 4);
        cuda.attentionAbsorbed(qLat, 2, qPe, 1, qPeStride, heads, rank, rope, slab, slots, count, scale, yc, 4);
        report("attentionAbsorbed " + count + " positions, rank " + rank + "+" + rope, yr, yc, FP32);
    }

    /** The opt-in tensor-core path: activations rounded to bf16, so the bf16-operand bound. */
    void tensorCoreProducts() {
        int n = 100;
        Tensor t = bf16("tc", 200, 256);
        float[] x = gauss(n * 256);
        float[] yr = nan(n * 200);
        float[] yc = nan(n * 200);
        cpu.matmul(cpu.upload(t), x, n, yr);
        tensorCores.matmul(tensorCores.upload(t), x, n, yc);
        report("matmul bf16 on tensor cores 200x256 n 100", yr, yc, BF16_OPERANDS);
        Int4Group32 q = int4("tc4", 130, 320);
        float[] x4 = gauss(n * 320);
        float[] yr4 = nan(n * 130);
        float[] yc4 = nan(n * 130);
        cpu.matmul(cpu.upload(q), x4, n, yr4);
        tensorCores.matmul(tensorCores.upload(q), x4, n, yc4);
        report("matmul int4 on tensor cores 130x320 n 100", yr4, yc4, BF16_OPERANDS);
    }
}
