package io.peregrine.engine.backend.cpu;

import static io.peregrine.engine.backend.cpu.VectorMath.F;
import static io.peregrine.engine.backend.cpu.VectorMath.L;
import static io.peregrine.engine.backend.cpu.VectorMath.S;

import io.peregrine.engine.checkpoint.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Products with a BF16 weight read straight from the mapped checkpoint: {@code y = x · Wᵀ} over a row band,
 * and the transposed {@code y = x · W}. Weights widen to fp32 in registers; accumulation is fp32.
 */
final class Bf16Kernels {
    private static final int TILE = 4;

    private Bf16Kernels() {}

    /** Rows {@code [lo, hi)} of the band starting at {@code row0}; tokens in tiles of four share each weight load. */
    static void matmul(MemorySegment w, int cols, int row0, int lo, int hi, float[] x, int xOff, int xStride, int n,
                       float[] y, int yOff, int yStride) {
        int bound = F.loopBound(cols);
        for (int r = lo; r < hi; r++) {
            long rowByte = (long) (row0 + r) * cols * 2;
            int t = 0;
            for (; t + TILE <= n; t += TILE) {
                int x0 = xOff + t * xStride;
                int x1 = x0 + xStride;
                int x2 = x1 + xStride;
                int x3 = x2 + xStride;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                FloatVector a2 = FloatVector.zero(F);
                FloatVector a3 = FloatVector.zero(F);
                int c = 0;
                for (; c < bound; c += L) {
                    FloatVector wv = VectorMath.widenBf16(
                            ShortVector.fromMemorySegment(S, w, rowByte + 2L * c, ByteOrder.LITTLE_ENDIAN));
                    a0 = wv.fma(FloatVector.fromArray(F, x, x0 + c), a0);
                    a1 = wv.fma(FloatVector.fromArray(F, x, x1 + c), a1);
                    a2 = wv.fma(FloatVector.fromArray(F, x, x2 + c), a2);
                    a3 = wv.fma(FloatVector.fromArray(F, x, x3 + c), a3);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD);
                float s1 = a1.reduceLanes(VectorOperators.ADD);
                float s2 = a2.reduceLanes(VectorOperators.ADD);
                float s3 = a3.reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) {
                    float wc = bf16(w, rowByte, c);
                    s0 += wc * x[x0 + c];
                    s1 += wc * x[x1 + c];
                    s2 += wc * x[x2 + c];
                    s3 += wc * x[x3 + c];
                }
                int yo = yOff + t * yStride + r;
                y[yo] = s0;
                y[yo + yStride] = s1;
                y[yo + 2 * yStride] = s2;
                y[yo + 3 * yStride] = s3;
            }
            for (; t < n; t++) {
                int x0 = xOff + t * xStride;
                FloatVector a0 = FloatVector.zero(F);
                int c = 0;
                for (; c < bound; c += L) {
                    FloatVector wv = VectorMath.widenBf16(
                            ShortVector.fromMemorySegment(S, w, rowByte + 2L * c, ByteOrder.LITTLE_ENDIAN));
                    a0 = wv.fma(FloatVector.fromArray(F, x, x0 + c), a0);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) {
                    s0 += bf16(w, rowByte, c) * x[x0 + c];
                }
                y[yOff + t * yStride + r] = s0;
            }
        }
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
