package io.peregrine.engine.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Vector API products against their scalar twins on random shapes: odd row counts, columns that are not a
 * multiple of the vector length (BF16) or of a whole INT4 block, token counts around the tile of four, row
 * bands and strided activations. Sizes large enough to split over the pool run multi-threaded.
 */
class MatmulKernelsTest {
    private static final CpuBackend BACKEND = new CpuBackend(3);

    @AfterAll
    static void close() {
        BACKEND.close();
    }

    @ParameterizedTest
    @CsvSource({"1,1,1", "7,13,1", "5,33,3", "17,64,4", "31,100,5", "64,257,9", "129,1031,2", "1000,300,1",
        "37,1100,17", "19,2113,66", "50,16,2", "23,1056,4"})
    void bf16MatmulEqualsScalar(int rows, int cols, int n) {
        Random rnd = new Random(rows * 31L + cols * 7L + n);
        Tensor t = RandomWeights.bf16(rnd, rows, cols);
        LinearWeight w = BACKEND.upload(t);
        int xStride = cols + 3;
        float[] x = RandomWeights.floats(rnd, n * xStride);
        int row0 = rows / 3;
        int band = rows - row0;
        int yStride = band + 2;
        float[] y = new float[n * yStride + 1];
        BACKEND.matmul(w, row0, band, x, 0, xStride, n, y, 1, yStride);
        float[] expected = new float[y.length];
        Bf16Kernels.matmulScalar(t.data(), cols, row0, band, x, 0, xStride, n, expected, 1, yStride);
        float[] mag = new float[y.length];
        Bf16Kernels.matmulScalar(absBf16(t).data(), cols, row0, band, Close.abs(x), 0, xStride, n, mag, 1, yStride);
        Close.assertClose(expected, y, mag, "bf16 " + rows + "x" + cols + " n=" + n);
        // the padding between rows is untouched
        assertEquals(0f, y[0]);
    }

    @ParameterizedTest
    @CsvSource({"1,1", "3,17", "16,130", "128,512", "9,1000"})
    void bf16TransposedEqualsScalar(int rows, int cols) {
        Random rnd = new Random(rows * 13L + cols);
        Tensor t = RandomWeights.bf16(rnd, rows + 2, cols);
        LinearWeight w = BACKEND.upload(t);
        float[] x = RandomWeights.floats(rnd, rows + 5);
        float[] y = new float[cols + 4];
        BACKEND.matmulTransposed(w, 2, rows, x, 5 - 0, y, 4);
        float[] expected = new float[cols + 4];
        Bf16Kernels.matmulTransposedScalar(t.data(), cols, 2, rows, x, 5, expected, 4);
        float[] mag = new float[cols + 4];
        Bf16Kernels.matmulTransposedScalar(absBf16(t).data(), cols, 2, rows, Close.abs(x), 5, mag, 4);
        Close.assertClose(expected, y, mag, "bf16ᵀ " + rows + "x" + cols);
    }

    @ParameterizedTest
    @CsvSource({"1,32,1", "3,32,2", "7,64,4", "13,224,5", "33,544,3", "2,1024,9", "65,7168,1", "300,2048,8",
        "19,2240,67", "45,7168,7", "21,512,130", "6,96,3", "7,4096,1", "7,4096,2"})
    void int4MatmulEqualsScalarDequantisation(int rows, int cols, int n) {
        Random rnd = new Random(rows * 131L + cols * 3L + n);
        Int4Group32 q = RandomWeights.int4(rnd, rows, cols);
        LinearWeight w = BACKEND.upload(q);
        assertEquals((long) rows * (cols / 2 + cols / 32 * 2), w.weightBytes());
        int xStride = cols + 1;
        float[] x = RandomWeights.floats(rnd, n * xStride);
        float[] y = new float[n * rows];
        BACKEND.matmul(w, 0, rows, x, 0, xStride, n, y, 0, rows);
        float[] expected = new float[n * rows];
        Int4Kernels.matmulScalar(q, x, 0, xStride, n, expected, 0, rows);
        float[] mag = new float[n * rows];
        Int4Kernels.matmulScalar(absInt4(q), Close.abs(x), 0, xStride, n, mag, 0, rows);
        Close.assertClose(expected, y, Close.abs(mag), "int4 " + rows + "x" + cols + " n=" + n);
    }

    @Test
    void matmulAllEqualsSeparateProducts() {
        Random rnd = new Random(5);
        LinearWeight[] ws = {BACKEND.upload(RandomWeights.int4(rnd, 300, 2048)), BACKEND.upload(RandomWeights.bf16(rnd, 77, 130)),
            BACKEND.upload(RandomWeights.int4(rnd, 5, 64)), BACKEND.upload(RandomWeights.bf16(rnd, 1000, 64))};
        int[] ns = {1, 3, 0, 6};
        float[][] xs = new float[ws.length][];
        float[][] ys = new float[ws.length][];
        for (int i = 0; i < ws.length; i++) {
            xs[i] = RandomWeights.floats(rnd, ns[i] * ws[i].cols());
            ys[i] = new float[ns[i] * ws[i].rows()];
        }
        BACKEND.matmulAll(ws, xs, ns, ys);
        for (int i = 0; i < ws.length; i++) {
            float[] expected = new float[ys[i].length];
            BACKEND.matmul(ws[i], xs[i], ns[i], expected);
            // not bit-exact: reduceLanes may sum in a different order before and after C2 compiles it
            Close.assertClose(expected, ys[i], rowMagnitude(xs[i], ns[i], ws[i]), "product " + i);
        }
        assertThrows(IllegalArgumentException.class,
                () -> BACKEND.matmulAll(ws, new float[1][], ns, ys));
    }

    @Test
    void perHeadProductsEqualTheGenericLoop() {
        Random rnd = new Random(9);
        int heads = 5;
        int headRows = 24;
        int cols = 40;
        LinearWeight w = BACKEND.upload(RandomWeights.bf16(rnd, heads * headRows, cols));
        io.peregrine.engine.backend.Backend generic = new io.peregrine.engine.backend.Backend() {
            public String name() { return "generic"; }
            public void close() {}
            public LinearWeight upload(Tensor t) { throw new UnsupportedOperationException(); }
            public LinearWeight upload(Int4Group32 q) { throw new UnsupportedOperationException(); }
            public void matmul(LinearWeight a, int r0, int rows, float[] x, int xo, int xs, int n, float[] y, int yo, int ys) {
                BACKEND.matmul(a, r0, rows, x, xo, xs, n, y, yo, ys);
            }
            public void matmulTransposed(LinearWeight a, int r0, int rows, float[] x, int xo, float[] y, int yo) {
                BACKEND.matmulTransposed(a, r0, rows, x, xo, y, yo);
            }
            public void rmsNorm(float[] x, int a, int b, int c, int d, float[] e, float f, float[] g, int h, int i) {}
            public void ropeInterleaved(float[] x, int off, int pos, float[] f, float m) {}
            public void siluMul(float[] g, float[] u, float[] o, int len) {}
            public void axpy(float a, float[] x, int xo, float[] y, int yo, int len) {}
            public void attentionNaive(float[] q, int t, int s, float[] kv, float[] kp, int h, int n, int r, int v, float sc, float[] o) {}
            public void attentionAbsorbed(float[] a, int b, float[] c, int d, int e, int f, int g, int h, float[] i, int[] j, int k, float l, float[] m, int n) {}
        };
        // transposed: 10 rows per head starting at row 3, x per head strided by 12
        float[] x = RandomWeights.floats(rnd, 1 + heads * 12);
        float[] y1 = new float[2 + heads * cols];
        float[] y2 = new float[2 + heads * cols];
        BACKEND.matmulHeads(w, true, heads, headRows, 3, 10, x, 1, 12, y1, 2, cols);
        generic.matmulHeads(w, true, heads, headRows, 3, 10, x, 1, 12, y2, 2, cols);
        float[] m1 = new float[y1.length];
        java.util.Arrays.fill(m1, 10 * 10 * 3);
        Close.assertClose(y2, y1, m1, "transposed heads");
        // plain: rows 14..23 of each head against a per-head input of cols
        float[] xs = RandomWeights.floats(rnd, heads * cols);
        float[] z1 = new float[heads * 10];
        float[] z2 = new float[heads * 10];
        BACKEND.matmulHeads(w, false, heads, headRows, 14, 10, xs, 0, cols, z1, 0, 10);
        generic.matmulHeads(w, false, heads, headRows, 14, 10, xs, 0, cols, z2, 0, 10);
        float[] m2 = new float[z1.length];
        java.util.Arrays.fill(m2, 10 * cols * 3);
        Close.assertClose(z2, z1, m2, "heads");
        assertThrows(IllegalArgumentException.class,
                () -> BACKEND.matmulHeads(w, false, heads, headRows, 20, 10, xs, 0, cols, z1, 0, 10));
    }

    /** Σ|x| of each token times 10, a bound on |W| for these random weights (|gaussian| < 10, |int4| < 1). */
    private static float[] rowMagnitude(float[] x, int n, LinearWeight w) {
        float[] m = new float[n * w.rows()];
        for (int t = 0; t < n; t++) {
            float s = 0;
            for (int c = 0; c < w.cols(); c++) {
                s += Math.abs(x[t * w.cols() + c]);
            }
            java.util.Arrays.fill(m, t * w.rows(), (t + 1) * w.rows(), 10 * s);
        }
        return m;
    }

    @Test
    void int4RejectsRowBands() {
        Int4Group32 q = RandomWeights.int4(new Random(1), 4, 32);
        LinearWeight w = BACKEND.upload(q);
        assertThrows(IllegalArgumentException.class,
                () -> BACKEND.matmul(w, 1, 2, new float[32], 0, 32, 1, new float[2], 0, 2));
    }

    @Test
    void activationsThatDoNotFitAreRejected() {
        LinearWeight w = BACKEND.upload(RandomWeights.bf16(new Random(2), 4, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> BACKEND.matmul(w, new float[15], 2, new float[8]));
    }

    private static Tensor absBf16(Tensor t) {
        java.lang.foreign.MemorySegment seg = java.lang.foreign.Arena.ofAuto().allocate(t.data().byteSize(), 2);
        for (long i = 0; i < t.numel(); i++) {
            seg.setAtIndex(Tensor.BF16, i, (short) (t.data().getAtIndex(Tensor.BF16, i) & 0x7FFF));
        }
        return new Tensor(t.name(), t.dtype(), t.shape(), seg);
    }

    /** |W| as an INT4 view is not expressible; the bound uses 8·scale, the largest |nibble − 8|. */
    private static Int4Group32 absInt4(Int4Group32 q) {
        java.lang.foreign.MemorySegment packed = java.lang.foreign.Arena.ofAuto().allocate(q.packed().data().byteSize(), 4);
        packed.fill((byte) 0);
        return new Int4Group32(q.module(), q.rows(), q.cols(),
                new Tensor("p", q.packed().dtype(), q.packed().shape(), packed), q.scale());
    }
}
