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
    private Bf16Kernels() {}

    /**
     * Rows {@code [lo, hi)} of the band starting at {@code row0}. One token streams whole rows; a batch widens bands
     * of rows once into a cached fp32 tile and runs every token against it ({@link #tiled}).
     */
    static void matmul(MemorySegment w, int cols, int row0, int lo, int hi, float[] x, int xOff, int xStride, int n,
                       float[] y, int yOff, int yStride) {
        if (n == 1) {
            for (int r = lo; r < hi; r++) {
                y[yOff + r] = rowDot(w, (long) (row0 + r) * cols * 2, cols, x, xOff);
            }
        } else {
            tiled(w, cols, row0, lo, hi, x, xOff, xStride, n, y, yOff, yStride);
        }
    }

    /**
     * The batched product, shaped like {@link Int4Kernels}'s: for each band of {@link TileKernels#BAND_ROWS} rows
     * and each chunk of {@link TileKernels#CHUNK_FLOATS} columns, the band is widened to fp32 once (67 KB: L2) and
     * every tile of four tokens runs against it with {@link TileKernels#dot4x4}; per-lane partial sums carry
     * across chunks and are reduced once. The last {@code cols mod L} columns are added in scalar after the lane
     * sum. Missing rows of the last band are zero, missing tokens of the last tile repeat the last token; neither
     * is written out.
     */
    private static void tiled(MemorySegment w, int cols, int row0, int lo, int hi, float[] x, int xOff, int xStride,
                              int n, float[] y, int yOff, int yStride) {
        int chunk = TileKernels.CHUNK_FLOATS;
        int vecCols = F.loopBound(cols);
        float[] tile = TileKernels.weightTile(TileKernels.BAND_ROWS * chunk);
        float[] acc = TileKernels.accumulators();
        for (int t0 = 0; t0 < n; t0 += TileKernels.TOKEN_BLOCK) {
            int t1 = Math.min(n, t0 + TileKernels.TOKEN_BLOCK);
            int tokenTiles = (t1 - t0 + TileKernels.TOKENS - 1) / TileKernels.TOKENS;
            for (int r0 = lo; r0 < hi; r0 += TileKernels.BAND_ROWS) {
                int r1 = Math.min(hi, r0 + TileKernels.BAND_ROWS);
                int rowTiles = (r1 - r0 + TileKernels.ROWS - 1) / TileKernels.ROWS;
                int bandRows = rowTiles * TileKernels.ROWS;
                int aStride = bandRows * L;
                java.util.Arrays.fill(acc, 0, tokenTiles * TileKernels.TOKENS * aStride, 0f);
                for (int c0 = 0; c0 < vecCols; c0 += chunk) {
                    int floats = Math.min(vecCols, c0 + chunk) - c0;
                    for (int r = r0; r < r0 + bandRows; r++) {
                        int at = (r - r0) * chunk;
                        if (r < r1) {
                            long rowByte = (long) (row0 + r) * cols * 2;
                            for (int c = 0; c < floats; c += L) {
                                load(w, rowByte, c0 + c).intoArray(tile, at + c);
                            }
                        } else {
                            java.util.Arrays.fill(tile, at, at + floats, 0f);
                        }
                    }
                    for (int tt = 0; tt < tokenTiles; tt++) {
                        int ta = t0 + tt * TileKernels.TOKENS;
                        int x0 = xOff + ta * xStride + c0;
                        int x1 = xOff + Math.min(ta + 1, n - 1) * xStride + c0;
                        int x2 = xOff + Math.min(ta + 2, n - 1) * xStride + c0;
                        int x3 = xOff + Math.min(ta + 3, n - 1) * xStride + c0;
                        int a = tt * TileKernels.TOKENS * aStride;
                        for (int rt = 0; rt < rowTiles; rt++) {
                            TileKernels.dot4x4(tile, rt * TileKernels.ROWS * chunk, chunk, x, x0, x1, x2, x3, floats,
                                    acc, a + rt * TileKernels.ROWS * L, aStride);
                        }
                    }
                }
                for (int t = t0; t < t1; t++) {
                    int a = (t - t0) * aStride;
                    int xt = xOff + t * xStride;
                    int yo = yOff + t * yStride;
                    for (int r = r0; r < r1; r++) {
                        float s = VectorMath.sumLanes(FloatVector.fromArray(F, acc, a + (r - r0) * L));
                        long rowByte = (long) (row0 + r) * cols * 2;
                        for (int c = vecCols; c < cols; c++) {
                            s += bf16(w, rowByte, c) * x[xt + c];
                        }
                        y[yo + r] = s;
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
