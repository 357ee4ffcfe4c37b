package io.peregrine.engine.backend.cpu;

import static io.peregrine.engine.backend.cpu.VectorMath.F;
import static io.peregrine.engine.backend.cpu.VectorMath.L;
import static io.peregrine.engine.backend.cpu.VectorMath.S;

import io.peregrine.engine.checkpoint.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;

/**
 * Products with a BF16 weight read straight from the mapped checkpoint: {@code y = x · Wᵀ} over a row band,
 * and the transposed {@code y = x · W}. Weights widen to fp32 in registers; accumulation is fp32.
 */
final class Bf16Kernels {
    private static final int TILE = 4;

    private Bf16Kernels() {}

    static final int BATCH_COLS = 1024;
    static final int BATCH_ROWS = 32;

    /**
     * Rows {@code [lo, hi)} of the band starting at {@code row0}. One token streams whole rows; a batch walks the
     * weight in passes of {@link #BATCH_COLS} columns × {@link #BATCH_ROWS} rows so the activations of a pass stay
     * in L1 while tiles of four tokens reuse each weight vector.
     */
    static void matmul(MemorySegment w, int cols, int row0, int lo, int hi, float[] x, int xOff, int xStride, int n,
                       float[] y, int yOff, int yStride) {
        if (n == 1) {
            for (int r = lo; r < hi; r++) {
                y[yOff + r] = rowDot(w, (long) (row0 + r) * cols * 2, cols, x, xOff);
            }
            return;
        }
        for (int t = 0; t < n; t++) {
            java.util.Arrays.fill(y, yOff + t * yStride + lo, yOff + t * yStride + hi, 0f);
        }
        for (int c0 = 0; c0 < cols; c0 += BATCH_COLS) {
            int c1 = Math.min(cols, c0 + BATCH_COLS);
            for (int r0 = lo; r0 < hi; r0 += BATCH_ROWS) {
                int r1 = Math.min(hi, r0 + BATCH_ROWS);
                int t = 0;
                for (; t + TILE <= n; t += TILE) {
                    tile4(w, cols, row0, r0, r1, c0, c1, x, xOff + t * xStride, xStride, y, yOff + t * yStride, yStride);
                }
                for (; t < n; t++) {
                    for (int r = r0; r < r1; r++) {
                        y[yOff + t * yStride + r] += partialDot(w, (long) (row0 + r) * cols * 2, c0, c1, x, xOff + t * xStride);
                    }
                }
            }
        }
    }

    /** A whole row with one token: four accumulators keep four FMA chains in flight. */
    private static float rowDot(MemorySegment w, long rowByte, int cols, float[] x, int xOff) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int c = 0;
        for (int bound4 = cols - 4 * L + 1; c < bound4; c += 4 * L) {
            a0 = load(w, rowByte, c).fma(FloatVector.fromArray(F, x, xOff + c), a0);
            a1 = load(w, rowByte, c + L).fma(FloatVector.fromArray(F, x, xOff + c + L), a1);
            a2 = load(w, rowByte, c + 2 * L).fma(FloatVector.fromArray(F, x, xOff + c + 2 * L), a2);
            a3 = load(w, rowByte, c + 3 * L).fma(FloatVector.fromArray(F, x, xOff + c + 3 * L), a3);
        }
        for (int bound = F.loopBound(cols); c < bound; c += L) {
            a0 = load(w, rowByte, c).fma(FloatVector.fromArray(F, x, xOff + c), a0);
        }
        float s = VectorMath.sumLanes(a0.add(a1).add(a2.add(a3)));
        for (; c < cols; c++) {
            s += bf16(w, rowByte, c) * x[xOff + c];
        }
        return s;
    }

    private static float partialDot(MemorySegment w, long rowByte, int c0, int c1, float[] x, int xOff) {
        FloatVector a0 = FloatVector.zero(F);
        int c = c0;
        for (int bound = c0 + F.loopBound(c1 - c0); c < bound; c += L) {
            a0 = load(w, rowByte, c).fma(FloatVector.fromArray(F, x, xOff + c), a0);
        }
        float s = VectorMath.sumLanes(a0);
        for (; c < c1; c++) {
            s += bf16(w, rowByte, c) * x[xOff + c];
        }
        return s;
    }

    private static void tile4(MemorySegment w, int cols, int row0, int r0, int r1, int c0, int c1, float[] x, int x0,
                              int xStride, float[] y, int y0, int yStride) {
        int x1 = x0 + xStride;
        int x2 = x1 + xStride;
        int x3 = x2 + xStride;
        int bound = c0 + F.loopBound(c1 - c0);
        for (int r = r0; r < r1; r++) {
            long rowByte = (long) (row0 + r) * cols * 2;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            int c = c0;
            for (; c < bound; c += L) {
                FloatVector wv = load(w, rowByte, c);
                a0 = wv.fma(FloatVector.fromArray(F, x, x0 + c), a0);
                a1 = wv.fma(FloatVector.fromArray(F, x, x1 + c), a1);
                a2 = wv.fma(FloatVector.fromArray(F, x, x2 + c), a2);
                a3 = wv.fma(FloatVector.fromArray(F, x, x3 + c), a3);
            }
            float s0 = VectorMath.sumLanes(a0);
            float s1 = VectorMath.sumLanes(a1);
            float s2 = VectorMath.sumLanes(a2);
            float s3 = VectorMath.sumLanes(a3);
            for (; c < c1; c++) {
                float wc = bf16(w, rowByte, c);
                s0 += wc * x[x0 + c];
                s1 += wc * x[x1 + c];
                s2 += wc * x[x2 + c];
                s3 += wc * x[x3 + c];
            }
            y[y0 + r] += s0;
            y[y0 + yStride + r] += s1;
            y[y0 + 2 * yStride + r] += s2;
            y[y0 + 3 * yStride + r] += s3;
        }
    }

    private static FloatVector load(MemorySegment w, long rowByte, int c) {
        return VectorMath.widenBf16(ShortVector.fromMemorySegment(S, w, rowByte + 2L * c, ByteOrder.LITTLE_ENDIAN));
    }

    static void matmulScalar(MemorySegment w, int cols, int row0, int rows, float[] x, int xOff, int xStride, int n,
                             float[] y, int yOff, int yStride) {
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                long rowByte = (long) (row0 + r) * cols * 2;
                float s = 0;
                for (int c = 0; c < cols; c++) {
                    s += bf16(w, rowByte, c) * x[xOff + t * xStride + c];
                }
                y[yOff + t * yStride + r] = s;
            }
        }
    }

    /** Columns {@code [lo, hi)} of {@code y[c] = Σ_r x[r] · W[row0 + r, c]}. */
    static void matmulTransposed(MemorySegment w, int cols, int row0, int rows, float[] x, int xOff, float[] y,
                                 int yOff, int lo, int hi) {
        for (int c = lo; c < hi; c++) {
            y[yOff + c] = 0;
        }
        int bound = lo + F.loopBound(hi - lo);
        for (int r = 0; r < rows; r++) {
            long rowByte = (long) (row0 + r) * cols * 2;
            float xr = x[xOff + r];
            FloatVector a = FloatVector.broadcast(F, xr);
            int c = lo;
            for (; c < bound; c += L) {
                FloatVector wv = VectorMath.widenBf16(
                        ShortVector.fromMemorySegment(S, w, rowByte + 2L * c, ByteOrder.LITTLE_ENDIAN));
                wv.fma(a, FloatVector.fromArray(F, y, yOff + c)).intoArray(y, yOff + c);
            }
            for (; c < hi; c++) {
                y[yOff + c] = Math.fma(bf16(w, rowByte, c), xr, y[yOff + c]);
            }
        }
    }

    static void matmulTransposedScalar(MemorySegment w, int cols, int row0, int rows, float[] x, int xOff, float[] y,
                                       int yOff) {
        for (int c = 0; c < cols; c++) {
            float s = 0;
            for (int r = 0; r < rows; r++) {
                s += x[xOff + r] * bf16(w, (long) (row0 + r) * cols * 2, c);
            }
            y[yOff + c] = s;
        }
    }

    static float bf16(MemorySegment w, long rowByte, int c) {
        return Float.intBitsToFloat(w.get(Tensor.BF16, rowByte + 2L * c) << 16);
    }
}
