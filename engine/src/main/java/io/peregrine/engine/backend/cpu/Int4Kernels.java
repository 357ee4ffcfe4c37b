package io.peregrine.engine.backend.cpu;

import static io.peregrine.engine.backend.cpu.VectorMath.F;
import static io.peregrine.engine.backend.cpu.VectorMath.I;
import static io.peregrine.engine.backend.cpu.VectorMath.S;

import io.peregrine.engine.checkpoint.Int4Group32;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * {@code y = x · Wᵀ} for an INT4 group-32 weight in the {@link Int4Weight} layout. The activation row is
 * permuted once per product to match the nibble order ({@link #prepare}), so each decoded nibble plane is a
 * contiguous fp32 vector. The +8 offset is folded in as {@code −8 · Σ_group x}, which saves an operation per
 * weight. Tokens in tiles of four share each decoded weight vector.
 */
final class Int4Kernels {
    private static final int TILE = 4;
    private static final int WPG = Int4Weight.WORDS_PER_GROUP;
    private static final int NIB = Int4Group32.PER_WORD;

    private Int4Kernels() {}

    /** Floats of one prepared activation row: the permuted values, then {@code −8 · Σ x} per (padded) group. */
    static int preparedLength(Int4Weight w) {
        return w.scalesPerRow() * (Int4Group32.GROUP + 1);
    }

    /**
     * Permutes activation row(s) into {@code xr[b][w][i][l] = x[32·(b·lanes+l) + 8w + i]} followed by
     * {@code −8 · Σ x} of every group, zero for padding groups.
     */
    static void prepare(Int4Weight w, float[] x, int xOff, int xStride, int n, float[] out) {
        int lanes = w.lanes();
        int groups = w.groups();
        int len = preparedLength(w);
        int sumsAt = w.scalesPerRow() * Int4Group32.GROUP;
        for (int t = 0; t < n; t++) {
            int o = t * len;
            java.util.Arrays.fill(out, o, o + len, 0f);
            int xb = xOff + t * xStride;
            for (int g = 0; g < groups; g++) {
                int b = g / lanes;
                int l = g % lanes;
                float sum = 0;
                for (int ww = 0; ww < WPG; ww++) {
                    for (int i = 0; i < NIB; i++) {
                        float v = x[xb + g * Int4Group32.GROUP + ww * NIB + i];
                        out[o + ((b * WPG + ww) * NIB + i) * lanes + l] = v * PLANE_SCALE[i];
                        sum += v;
                    }
                }
                out[o + sumsAt + g] = -8f * sum;
            }
        }
    }

    /**
     * Rows {@code [lo, hi)} for {@code n} prepared activation rows. One token streams whole rows; a batch walks the
     * weight in passes of {@link #BATCH_BLOCKS} blocks × {@link #BATCH_ROWS} rows so the activations of a pass stay
     * in L1 and the weights of a pass in L2 while every token tile reuses them.
     */
    static void matmul(Int4Weight w, int lo, int hi, float[] xr, int n, float[] y, int yOff, int yStride) {
        if (w.lanes() != VectorMath.L) {
            throw new IllegalStateException(w.name() + " was repacked for " + w.lanes() + " lanes, kernel has " + VectorMath.L);
        }
        for (int t = 0; t < n; t++) {
            java.util.Arrays.fill(y, yOff + t * yStride + lo, yOff + t * yStride + hi, 0f);
        }
        int blocks = w.blocks();
        // Tried: column passes for one token too (4 blocks × 64 rows); 1.6-1.9× slower on 2048×7168 (the row
        // streams break into short strided runs), so one token streams whole rows.
        int blocksPerPass = n == 1 ? blocks : BATCH_BLOCKS;
        int rowsPerPass = n == 1 ? hi - lo : BATCH_ROWS;
        for (int b0 = 0; b0 < blocks; b0 += blocksPerPass) {
            int b1 = Math.min(blocks, b0 + blocksPerPass);
            for (int r0 = lo; r0 < hi; r0 += rowsPerPass) {
                int r1 = Math.min(hi, r0 + rowsPerPass);
                int t = 0;
                for (; t + TILE <= n; t += TILE) {
                    tile4(w, r0, r1, b0, b1, xr, t, y, yOff, yStride);
                }
                for (; t < n; t++) {
                    single(w, r0, r1, b0, b1, xr, t, y, yOff + t * yStride);
                }
            }
        }
    }

    static final int BATCH_BLOCKS = 2;
    static final int BATCH_ROWS = 64;

    /** Prepared activations larger than this no longer stay in L1 next to the streaming weights. */
    private static final int L1_ACTIVATION_BYTES = 16 << 10;

    /**
     * One token. When the prepared activation row is too large for L1 (K2.5 gate/up: 29.6 KB), rows go in pairs
     * that share each activation load, halving the L2 traffic (per core, 2048×7168: 6.6 → 7.8-8.3 GB/s); short
     * rows keep one row at a time with four accumulators (pairs cost 7168×2048 9.7 → 7.0 GB/s).
     */
    private static void single(Int4Weight w, int r0, int r1, int b0, int b1, float[] xr, int t, float[] y, int yRow) {
        int r = r0;
        if ((long) preparedLength(w) * Float.BYTES > L1_ACTIVATION_BYTES) {
            for (; r + 1 < r1; r += 2) {
                rowPair(w, r, b0, b1, xr, t, y, yRow);
            }
        }
        for (; r < r1; r++) {
            row(w, r, b0, b1, xr, t, y, yRow);
        }
    }

    private static void rowPair(Int4Weight w, int r, int b0, int b1, float[] xr, int t, float[] y, int yRow) {
        int lanes = w.lanes();
        int wpr = w.wordsPerRow();
        int spr = w.scalesPerRow();
        int o0 = t * preparedLength(w);
        int sumsAt = o0 + spr * Int4Group32.GROUP;
        MemorySegment words = w.words();
        MemorySegment scales = w.scales();
        int wa = r * wpr;
        int wb = wa + wpr;
        FloatVector ta = FloatVector.zero(F);
        FloatVector tb = FloatVector.zero(F);
        for (int b = b0; b < b1; b++) {
            FloatVector a0 = FloatVector.fromArray(F, xr, sumsAt + b * lanes);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector c0 = a0;
            FloatVector c1 = FloatVector.zero(F);
            int xo = o0 + b * WPG * NIB * lanes;
            for (int ww = 0; ww < WPG; ww += 2) {
                int wo = b * WPG * lanes + ww * lanes;
                IntVector p0 = word(words, wa + wo);
                IntVector p1 = word(words, wa + wo + lanes);
                IntVector q0 = word(words, wb + wo);
                IntVector q1 = word(words, wb + wo + lanes);
                int xw = xo + ww * NIB * lanes;
                for (int i = 0; i < NIB; i++) {
                    FloatVector x0 = FloatVector.fromArray(F, xr, xw + i * lanes);
                    FloatVector x1 = FloatVector.fromArray(F, xr, xw + (NIB + i) * lanes);
                    a0 = nibble(p0, i).fma(x0, a0);
                    c0 = nibble(q0, i).fma(x0, c0);
                    a1 = nibble(p1, i).fma(x1, a1);
                    c1 = nibble(q1, i).fma(x1, c1);
                }
            }
            ta = a0.add(a1).fma(scale(scales, r * spr + b * lanes), ta);
            tb = c0.add(c1).fma(scale(scales, (r + 1) * spr + b * lanes), tb);
        }
        y[yRow + r] += VectorMath.sumLanes(ta);
        y[yRow + r + 1] += VectorMath.sumLanes(tb);
    }

    /** One row, four accumulators (one per word of a group). */
    private static void row(Int4Weight w, int r, int b0, int b1, float[] xr, int t, float[] y, int yRow) {
        int lanes = w.lanes();
        int wpr = w.wordsPerRow();
        int spr = w.scalesPerRow();
        int o0 = t * preparedLength(w);
        int sumsAt = o0 + spr * Int4Group32.GROUP;
        MemorySegment words = w.words();
        MemorySegment scales = w.scales();
        int wBase = r * wpr;
        FloatVector total = FloatVector.zero(F);
        for (int b = b0; b < b1; b++) {
            FloatVector a0 = FloatVector.fromArray(F, xr, sumsAt + b * lanes);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            int wo = wBase + b * WPG * lanes;
            int xo = o0 + b * WPG * NIB * lanes;
            IntVector w0 = word(words, wo);
            IntVector w1 = word(words, wo + lanes);
            IntVector w2 = word(words, wo + 2 * lanes);
            IntVector w3 = word(words, wo + 3 * lanes);
            for (int i = 0; i < NIB; i++) {
                int xi = xo + i * lanes;
                a0 = nibble(w0, i).fma(FloatVector.fromArray(F, xr, xi), a0);
                a1 = nibble(w1, i).fma(FloatVector.fromArray(F, xr, xi + NIB * lanes), a1);
                a2 = nibble(w2, i).fma(FloatVector.fromArray(F, xr, xi + 2 * NIB * lanes), a2);
                a3 = nibble(w3, i).fma(FloatVector.fromArray(F, xr, xi + 3 * NIB * lanes), a3);
            }
            total = a0.add(a1).add(a2.add(a3)).fma(scale(scales, r * spr + b * lanes), total);
        }
        y[yRow + r] += VectorMath.sumLanes(total);
    }

    /** Four tokens share each decoded nibble plane. */
    private static void tile4(Int4Weight w, int r0, int r1, int b0, int b1, float[] xr, int t, float[] y, int yOff,
                              int yStride) {
        int lanes = w.lanes();
        int wpr = w.wordsPerRow();
        int spr = w.scalesPerRow();
        int len = preparedLength(w);
        int sumsAt = spr * Int4Group32.GROUP;
        MemorySegment words = w.words();
        MemorySegment scales = w.scales();
        int o0 = t * len;
        int o1 = o0 + len;
        int o2 = o1 + len;
        int o3 = o2 + len;
        for (int r = r0; r < r1; r++) {
            int wBase = r * wpr;
            FloatVector s0 = FloatVector.zero(F);
            FloatVector s1 = FloatVector.zero(F);
            FloatVector s2 = FloatVector.zero(F);
            FloatVector s3 = FloatVector.zero(F);
            for (int b = b0; b < b1; b++) {
                FloatVector a0 = FloatVector.fromArray(F, xr, o0 + sumsAt + b * lanes);
                FloatVector a1 = FloatVector.fromArray(F, xr, o1 + sumsAt + b * lanes);
                FloatVector a2 = FloatVector.fromArray(F, xr, o2 + sumsAt + b * lanes);
                FloatVector a3 = FloatVector.fromArray(F, xr, o3 + sumsAt + b * lanes);
                for (int ww = 0; ww < WPG; ww++) {
                    IntVector wv = word(words, wBase + (b * WPG + ww) * lanes);
                    int xo = ((b * WPG + ww) * NIB) * lanes;
                    for (int i = 0; i < NIB; i++) {
                        FloatVector q = nibble(wv, i);
                        int xi = xo + i * lanes;
                        a0 = q.fma(FloatVector.fromArray(F, xr, o0 + xi), a0);
                        a1 = q.fma(FloatVector.fromArray(F, xr, o1 + xi), a1);
                        a2 = q.fma(FloatVector.fromArray(F, xr, o2 + xi), a2);
                        a3 = q.fma(FloatVector.fromArray(F, xr, o3 + xi), a3);
                    }
                }
                FloatVector sc = scale(scales, r * spr + b * lanes);
                s0 = a0.fma(sc, s0);
                s1 = a1.fma(sc, s1);
                s2 = a2.fma(sc, s2);
                s3 = a3.fma(sc, s3);
            }
            int yo = yOff + t * yStride + r;
            y[yo] += VectorMath.sumLanes(s0);
            y[yo + yStride] += VectorMath.sumLanes(s1);
            y[yo + 2 * yStride] += VectorMath.sumLanes(s2);
            y[yo + 3 * yStride] += VectorMath.sumLanes(s3);
        }
    }

    private static IntVector word(MemorySegment words, long index) {
        return IntVector.fromMemorySegment(I, words, 4 * index, ByteOrder.LITTLE_ENDIAN);
    }

    private static FloatVector scale(MemorySegment scales, long index) {
        return VectorMath.widenBf16(ShortVector.fromMemorySegment(S, scales, 2 * index, ByteOrder.LITTLE_ENDIAN));
    }

    /**
     * Nibble plane {@code i} as floats, left in place ({@code nibble · 2^4i}) so it costs a mask instead of a
     * shift and a mask; {@link #prepare} divides the matching activations by {@code 2^4i}, so each product is
     * exactly {@code nibble · x} (powers of two, and a 4-bit value times {@code 2^28} is exact in fp32). The top
     * nibble would turn the int negative, so it is shifted down instead.
     */
    private static FloatVector nibble(IntVector words, int i) {
        IntVector v = i == NIB - 1 ? words.lanewise(VectorOperators.LSHR, 4 * i) : words.and(0xF << (4 * i));
        return (FloatVector) v.convert(VectorOperators.I2F, 0);
    }

    /** Activation scale per nibble plane, see {@link #nibble}. */
    private static final float[] PLANE_SCALE = {1f, 0x1p-4f, 0x1p-8f, 0x1p-12f, 0x1p-16f, 0x1p-20f, 0x1p-24f, 1f};

    /** The scalar twin: dequantise each stored weight with the reference rule and accumulate in fp32. */
    static void matmulScalar(Int4Group32 q, float[] x, int xOff, int xStride, int n, float[] y, int yOff, int yStride) {
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < q.rows(); r++) {
                float s = 0;
                for (int c = 0; c < q.cols(); c++) {
                    s += q.dequant(r, c) * x[xOff + t * xStride + c];
                }
                y[yOff + t * yStride + r] = s;
            }
        }
    }
}
