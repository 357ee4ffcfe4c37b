package io.peregrine.engine.backend.cpu;

import static io.peregrine.engine.backend.cpu.VectorMath.F;
import static io.peregrine.engine.backend.cpu.VectorMath.L;

import jdk.incubator.vector.FloatVector;

/**
 * The register-blocked core of the batched products: four weight rows × four tokens per pass, sixteen vector
 * accumulators held in registers, each weight vector and each activation vector loaded once per pass and used
 * four times. Both operands are fp32 rows already in cache: the INT4 and BF16 kernels dequantise a band of
 * weight rows once into an L2-resident buffer and run every token of the batch against it.
 *
 * <p>Accumulators live in {@code acc} between passes over column chunks, one vector of per-lane partial sums per
 * (token, row), so every lane sums its columns in column order from zero whatever the chunking, the tile a token
 * lands in or the other tokens of the batch; the caller reduces each with {@link VectorMath#sumLanes} at the end.
 */
final class TileKernels {
    /** Rows and tokens of one register tile. */
    static final int ROWS = 4;
    static final int TOKENS = 4;
    /** Weight rows dequantised together: a band of four register tiles. */
    static final int BAND_ROWS = 16;
    /** Tokens whose accumulators are kept at once (64 × 16 rows × 16 lanes × 4 B = 64 KB). */
    static final int TOKEN_BLOCK = 64;
    /** Floats per row of a weight tile: 2 INT4 blocks of 33 planes, or as many BF16 columns (4.2 KB). */
    static final int CHUNK_FLOATS = 2 * 33 * L;

    /**
     * Per-thread scratch (weight tile, accumulators), reused by every batched product on that thread so the hot
     * path allocates nothing; the compute pool's threads live as long as the backend.
     */
    private static final ThreadLocal<float[]> WEIGHT_TILE = ThreadLocal.withInitial(() -> new float[BAND_ROWS * CHUNK_FLOATS]);
    private static final ThreadLocal<float[]> ACCUMULATORS = ThreadLocal.withInitial(() -> new float[TOKEN_BLOCK * BAND_ROWS * L]);

    private TileKernels() {}

    static float[] weightTile(int floats) {
        float[] t = WEIGHT_TILE.get();
        if (t.length < floats) {
            throw new IllegalStateException(floats + " floats of weight tile, scratch holds " + t.length);
        }
        return t;
    }

    static float[] accumulators() {
        return ACCUMULATORS.get();
    }

    /**
     * {@code acc[(t·ROWS + r)·… ] += w[r][k] · x_t[k]} lane-wise over {@code k ∈ [0, len)}: token {@code t}'s row
     * {@code r} accumulates at {@code aOff + t·aStride + r·L}. {@code len} is a multiple of the vector length.
     */
    static void dot4x4(float[] w, int wOff, int wStride, float[] x, int x0, int x1, int x2, int x3, int len,
                       float[] acc, int aOff, int aStride) {
        int w1 = wOff + wStride;
        int w2 = w1 + wStride;
        int w3 = w2 + wStride;
        int b0 = aOff;
        int b1 = b0 + aStride;
        int b2 = b1 + aStride;
        int b3 = b2 + aStride;
        FloatVector c00 = FloatVector.fromArray(F, acc, b0);
        FloatVector c01 = FloatVector.fromArray(F, acc, b0 + L);
        FloatVector c02 = FloatVector.fromArray(F, acc, b0 + 2 * L);
        FloatVector c03 = FloatVector.fromArray(F, acc, b0 + 3 * L);
        FloatVector c10 = FloatVector.fromArray(F, acc, b1);
        FloatVector c11 = FloatVector.fromArray(F, acc, b1 + L);
        FloatVector c12 = FloatVector.fromArray(F, acc, b1 + 2 * L);
        FloatVector c13 = FloatVector.fromArray(F, acc, b1 + 3 * L);
        FloatVector c20 = FloatVector.fromArray(F, acc, b2);
        FloatVector c21 = FloatVector.fromArray(F, acc, b2 + L);
        FloatVector c22 = FloatVector.fromArray(F, acc, b2 + 2 * L);
        FloatVector c23 = FloatVector.fromArray(F, acc, b2 + 3 * L);
        FloatVector c30 = FloatVector.fromArray(F, acc, b3);
        FloatVector c31 = FloatVector.fromArray(F, acc, b3 + L);
        FloatVector c32 = FloatVector.fromArray(F, acc, b3 + 2 * L);
        FloatVector c33 = FloatVector.fromArray(F, acc, b3 + 3 * L);
        for (int k = 0; k < len; k += L) {
            FloatVector v0 = FloatVector.fromArray(F, w, wOff + k);
            FloatVector v1 = FloatVector.fromArray(F, w, w1 + k);
            FloatVector v2 = FloatVector.fromArray(F, w, w2 + k);
            FloatVector v3 = FloatVector.fromArray(F, w, w3 + k);
            FloatVector a = FloatVector.fromArray(F, x, x0 + k);
            c00 = v0.fma(a, c00);
            c01 = v1.fma(a, c01);
            c02 = v2.fma(a, c02);
            c03 = v3.fma(a, c03);
            a = FloatVector.fromArray(F, x, x1 + k);
            c10 = v0.fma(a, c10);
            c11 = v1.fma(a, c11);
            c12 = v2.fma(a, c12);
            c13 = v3.fma(a, c13);
            a = FloatVector.fromArray(F, x, x2 + k);
            c20 = v0.fma(a, c20);
            c21 = v1.fma(a, c21);
            c22 = v2.fma(a, c22);
            c23 = v3.fma(a, c23);
            a = FloatVector.fromArray(F, x, x3 + k);
            c30 = v0.fma(a, c30);
            c31 = v1.fma(a, c31);
            c32 = v2.fma(a, c32);
            c33 = v3.fma(a, c33);
        }
        c00.intoArray(acc, b0);
        c01.intoArray(acc, b0 + L);
        c02.intoArray(acc, b0 + 2 * L);
        c03.intoArray(acc, b0 + 3 * L);
        c10.intoArray(acc, b1);
        c11.intoArray(acc, b1 + L);
        c12.intoArray(acc, b1 + 2 * L);
        c13.intoArray(acc, b1 + 3 * L);
        c20.intoArray(acc, b2);
        c21.intoArray(acc, b2 + L);
        c22.intoArray(acc, b2 + 2 * L);
        c23.intoArray(acc, b2 + 3 * L);
        c30.intoArray(acc, b3);
        c31.intoArray(acc, b3 + L);
        c32.intoArray(acc, b3 + 2 * L);
        c33.intoArray(acc, b3 + 3 * L);
    }

    /** The scalar twin of {@link #dot4x4}: the same lane-wise sums, one multiply-add at a time. */
    static void dot4x4Scalar(float[] w, int wOff, int wStride, float[] x, int x0, int x1, int x2, int x3, int len,
                             float[] acc, int aOff, int aStride) {
        int[] xs = {x0, x1, x2, x3};
        for (int t = 0; t < TOKENS; t++) {
            for (int r = 0; r < ROWS; r++) {
                for (int k = 0; k < len; k++) {
                    int a = aOff + t * aStride + r * L + k % L;
                    acc[a] = Math.fma(w[wOff + r * wStride + k], x[xs[t] + k], acc[a]);
                }
            }
        }
    }
}
