package io.peregrine.engine.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.peregrine.engine.backend.HostTensor;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.Product;
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
        BACKEND.matmul(w, row0, new HostTensor(x, 0, n, cols, xStride), new HostTensor(y, 1, n, band, yStride));
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
        BACKEND.matmulHeadsTransposed(w, 1, rows + 2, 2, rows, new HostTensor(x, 5, 1, rows, rows), rows,
                new HostTensor(y, 4, 1, cols, cols));
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
        BACKEND.matmul(w, new HostTensor(x, 0, n, cols, xStride), new HostTensor(y, 0, n, rows, rows));
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
        java.util.List<Product> products = new java.util.ArrayList<>();
        for (int i = 0; i < ws.length; i++) {
            products.add(new Product(ws[i], dense(xs[i], ns[i], ws[i].cols()), dense(ys[i], ns[i], ws[i].rows())));
        }
        BACKEND.matmulAll(products);
        for (int i = 0; i < ws.length; i++) {
            float[] expected = new float[ys[i].length];
            BACKEND.matmul(ws[i], dense(xs[i], ns[i], ws[i].cols()), dense(expected, ns[i], ws[i].rows()));
            // not bit-exact: reduceLanes may sum in a different order before and after C2 compiles it
            Close.assertClose(expected, ys[i], rowMagnitude(xs[i], ns[i], ws[i]), "product " + i);
        }
        assertThrows(IllegalArgumentException.class,
                () -> new Product(ws[0], dense(xs[1], ns[1], ws[1].cols()), dense(ys[0], ns[0], ws[0].rows())));
    }

    private static HostTensor dense(float[] a, int rows, int cols) {
        return new HostTensor(a, 0, rows, cols, cols);
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
                () -> BACKEND.matmul(w, 1, dense(new float[32], 1, 32), dense(new float[2], 1, 2)));
    }

    @Test
    void activationsThatDoNotFitAreRejected() {
        LinearWeight w = BACKEND.upload(RandomWeights.bf16(new Random(2), 4, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> dense(new float[15], 2, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> BACKEND.matmul(w, dense(new float[16], 2, 8), dense(new float[10], 2, 5)));
        assertThrows(IllegalArgumentException.class, () -> BACKEND.matmul(w, dense(new float[14], 2, 7), dense(new float[8], 2, 4)));
        assertThrows(IllegalArgumentException.class, () -> BACKEND.matmul(w, dense(new float[16], 2, 8), dense(new float[12], 3, 4)));
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
