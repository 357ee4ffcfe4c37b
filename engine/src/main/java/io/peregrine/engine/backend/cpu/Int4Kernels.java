package io.peregrine.engine.backend.cpu;

import static io.peregrine.engine.backend.cpu.VectorMath.F;
import static io.peregrine.engine.backend.cpu.VectorMath.I;
import static io.peregrine.engine.backend.cpu.VectorMath.S;

import io.peregrine.engine.checkpoint.Int4Group32;
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
                        out[o + ((b * WPG + ww) * NIB + i) * lanes + l] = v;
                        sum += v;
                    }
                }
                out[o + sumsAt + g] = -8f * sum;
            }
        }
    }

    /** Rows {@code [lo, hi)} for {@code n} prepared activation rows. */
    static void matmul(Int4Weight w, int lo, int hi, float[] xr, int n, float[] y, int yOff, int yStride) {
        if (w.lanes() != VectorMath.L) {
            throw new IllegalStateException(w.name() + " was repacked for " + w.lanes() + " lanes, kernel has " + VectorMath.L);
        }
        int lanes = w.lanes();
        int blocks = w.blocks();
        int wpr = w.wordsPerRow();
        int spr = w.scalesPerRow();
        int len = preparedLength(w);
        int sumsAt = spr * Int4Group32.GROUP;
        int[] words = w.words();
        short[] scales = w.scales();
        for (int r = lo; r < hi; r++) {
            int wBase = r * wpr;
            int sBase = r * spr;
            int t = 0;
            for (; t + TILE <= n; t += TILE) {
                int o0 = t * len;
                int o1 = o0 + len;
                int o2 = o1 + len;
                int o3 = o2 + len;
                FloatVector s0 = FloatVector.zero(F);
                FloatVector s1 = FloatVector.zero(F);
                FloatVector s2 = FloatVector.zero(F);
                FloatVector s3 = FloatVector.zero(F);
                for (int b = 0; b < blocks; b++) {
                    FloatVector a0 = FloatVector.fromArray(F, xr, o0 + sumsAt + b * lanes);
                    FloatVector a1 = FloatVector.fromArray(F, xr, o1 + sumsAt + b * lanes);
                    FloatVector a2 = FloatVector.fromArray(F, xr, o2 + sumsAt + b * lanes);
                    FloatVector a3 = FloatVector.fromArray(F, xr, o3 + sumsAt + b * lanes);
                    for (int ww = 0; ww < WPG; ww++) {
                        IntVector wv = IntVector.fromArray(I, words, wBase + (b * WPG + ww) * lanes);
                        int xo = ((b * WPG + ww) * NIB) * lanes;
                        for (int i = 0; i < NIB; i++) {
                            FloatVector q = (FloatVector) wv.lanewise(VectorOperators.LSHR, 4 * i).and(0xF)
                                    .convert(VectorOperators.I2F, 0);
                            int xi = xo + i * lanes;
                            a0 = q.fma(FloatVector.fromArray(F, xr, o0 + xi), a0);
                            a1 = q.fma(FloatVector.fromArray(F, xr, o1 + xi), a1);
                            a2 = q.fma(FloatVector.fromArray(F, xr, o2 + xi), a2);
                            a3 = q.fma(FloatVector.fromArray(F, xr, o3 + xi), a3);
                        }
                    }
                    FloatVector sc = VectorMath.widenBf16(ShortVector.fromArray(S, scales, sBase + b * lanes));
                    s0 = a0.fma(sc, s0);
                    s1 = a1.fma(sc, s1);
                    s2 = a2.fma(sc, s2);
                    s3 = a3.fma(sc, s3);
                }
                int yo = yOff + t * yStride + r;
                y[yo] = s0.reduceLanes(VectorOperators.ADD);
                y[yo + yStride] = s1.reduceLanes(VectorOperators.ADD);
                y[yo + 2 * yStride] = s2.reduceLanes(VectorOperators.ADD);
                y[yo + 3 * yStride] = s3.reduceLanes(VectorOperators.ADD);
            }
            for (; t < n; t++) {
                int o0 = t * len;
                FloatVector s0 = FloatVector.zero(F);
                for (int b = 0; b < blocks; b++) {
                    FloatVector a0 = FloatVector.fromArray(F, xr, o0 + sumsAt + b * lanes);
                    for (int ww = 0; ww < WPG; ww++) {
                        IntVector wv = IntVector.fromArray(I, words, wBase + (b * WPG + ww) * lanes);
                        int xo = o0 + ((b * WPG + ww) * NIB) * lanes;
                        for (int i = 0; i < NIB; i++) {
                            FloatVector q = (FloatVector) wv.lanewise(VectorOperators.LSHR, 4 * i).and(0xF)
                                    .convert(VectorOperators.I2F, 0);
                            a0 = q.fma(FloatVector.fromArray(F, xr, xo + i * lanes), a0);
                        }
                    }
                    FloatVector sc = VectorMath.widenBf16(ShortVector.fromArray(S, scales, sBase + b * lanes));
                    s0 = a0.fma(sc, s0);
                }
                y[yOff + t * yStride + r] = s0.reduceLanes(VectorOperators.ADD);
            }
        }
    }

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
