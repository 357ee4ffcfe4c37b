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
 * weight. A batch instead dequantises the weight once per band and chunk into fp32 tiles ({@link #tiled}).
 */
final class Int4Kernels {
    private static final int WPG = Int4Weight.WORDS_PER_GROUP;
    private static final int NIB = Int4Group32.PER_WORD;

    private Int4Kernels() {}

    /** Floats of one block of a prepared row: 32 nibble planes of {@code lanes} groups, then their {@code −8 · Σ x}. */
    static int blockLength(Int4Weight w) {
        return (Int4Group32.GROUP + 1) * w.lanes();
    }

    /** Floats of one prepared activation row: {@link #blockLength} per block. */
    static int preparedLength(Int4Weight w) {
        return w.blocks() * blockLength(w);
    }

    /**
     * Permutes activation row(s) into {@code xr[b][w][i][l] = x[32·(b·lanes+l) + 8w + i] · 2^-4i} followed, in each
     * block, by {@code −8 · Σ x} of its groups (plane 32); zero for padding groups. A block's 33 planes pair with
     * the 33 of a dequantised weight block ({@link #dequantBlock}), so the batched kernel is one plain dot product.
     */
    static void prepare(Int4Weight w, float[] x, int xOff, int xStride, int n, float[] out) {
        int lanes = w.lanes();
        int groups = w.groups();
        int len = preparedLength(w);
        int block = blockLength(w);
        for (int t = 0; t < n; t++) {
            int o = t * len;
            java.util.Arrays.fill(out, o, o + len, 0f);
            int xb = xOff + t * xStride;
            for (int g = 0; g < groups; g++) {
                int bo = o + (g / lanes) * block;
                int l = g % lanes;
                float sum = 0;
                for (int ww = 0; ww < WPG; ww++) {
                    for (int i = 0; i < NIB; i++) {
                        float v = x[xb + g * Int4Group32.GROUP + ww * NIB + i];
                        out[bo + (ww * NIB + i) * lanes + l] = v * PLANE_SCALE[i];
                        sum += v;
                    }
                }
                out[bo + Int4Group32.GROUP * lanes + l] = -8f * sum;
            }
        }
    }

    /**
     * Rows {@code [lo, hi)} for {@code n} prepared activation rows. One token streams whole rows straight from the
     * packed weight; a batch dequantises bands of rows once into a cached fp32 tile and runs every token against
     * it with the register-blocked {@link TileKernels#dot4x4}.
     */
    static void matmul(Int4Weight w, int lo, int hi, float[] xr, int n, float[] y, int yOff, int yStride) {
        if (w.lanes() != VectorMath.L) {
            throw new IllegalStateException(w.name() + " was repacked for " + w.lanes() + " lanes, kernel has " + VectorMath.L);
        }
        if (n < MIN_TILED_TOKENS) {
            // Tried: column passes for one token too (4 blocks × 64 rows); 1.6-1.9× slower on 2048×7168 (the row
            // streams break into short strided runs), so one token streams whole rows.
            for (int t = 0; t < n; t++) {
                java.util.Arrays.fill(y, yOff + t * yStride + lo, yOff + t * yStride + hi, 0f);
                single(w, lo, hi, 0, w.blocks(), xr, t, y, yOff + t * yStride);
            }
        } else {
            tiled(w, lo, hi, xr, n, y, yOff, yStride);
        }
    }

    /**
     * Below this many tokens the dequantisation a tile costs (4 vector operations and a store per 16 weights) is
     * not repaid: two tokens through the one-token kernel take 2.2 ms on 2048×7168 per core, tiled 3.3 ms; three
     * break even.
     */
    static final int MIN_TILED_TOKENS = 3;

    /** Blocks of one column chunk of the batched kernel: 2 × 33 planes, 4.2 KB per row or token. */
    static final int CHUNK_BLOCKS = 2;

    /**
     * The batched product. For each band of {@link TileKernels#BAND_ROWS} rows and each column chunk of
     * {@link #CHUNK_BLOCKS} blocks, the band is dequantised once ({@link #dequantBlock}, 67 KB: stays in L2) and
     * every tile of four tokens (17 KB of activations: L1) runs against it, four rows at a time; per-lane partial
     * sums carry from chunk to chunk in {@code acc}, reduced once at the end. Tokens go in blocks of
     * {@link TileKernels#TOKEN_BLOCK} so the accumulators stay cached too. Tails are padded: missing rows are
     * zero weights, missing tokens repeat the last one, and neither is written out.
     */
    private static void tiled(Int4Weight w, int lo, int hi, float[] xr, int n, float[] y, int yOff, int yStride) {
        int block = blockLength(w);
        int len = preparedLength(w);
        int blocks = w.blocks();
        int chunk = CHUNK_BLOCKS * block;
        float[] tile = TileKernels.weightTile(TileKernels.BAND_ROWS * chunk);
        float[] acc = TileKernels.accumulators();
        for (int t0 = 0; t0 < n; t0 += TileKernels.TOKEN_BLOCK) {
            int t1 = Math.min(n, t0 + TileKernels.TOKEN_BLOCK);
            int tokenTiles = (t1 - t0 + TileKernels.TOKENS - 1) / TileKernels.TOKENS;
            for (int r0 = lo; r0 < hi; r0 += TileKernels.BAND_ROWS) {
                int r1 = Math.min(hi, r0 + TileKernels.BAND_ROWS);
                int rowTiles = (r1 - r0 + TileKernels.ROWS - 1) / TileKernels.ROWS;
                int bandRows = rowTiles * TileKernels.ROWS;
                int aStride = bandRows * VectorMath.L;
                java.util.Arrays.fill(acc, 0, tokenTiles * TileKernels.TOKENS * aStride, 0f);
                for (int b0 = 0; b0 < blocks; b0 += CHUNK_BLOCKS) {
                    int b1 = Math.min(blocks, b0 + CHUNK_BLOCKS);
                    int floats = (b1 - b0) * block;
                    for (int r = r0; r < r0 + bandRows; r++) {
                        int at = (r - r0) * chunk;
                        if (r < r1) {
                            for (int b = b0; b < b1; b++) {
                                dequantBlock(w, r, b, tile, at + (b - b0) * block);
                            }
                        } else {
                            java.util.Arrays.fill(tile, at, at + floats, 0f);
                        }
                    }
                    for (int tt = 0; tt < tokenTiles; tt++) {
                        int ta = t0 + tt * TileKernels.TOKENS;
                        int x0 = ta * len + b0 * block;
                        int x1 = Math.min(ta + 1, n - 1) * len + b0 * block;
                        int x2 = Math.min(ta + 2, n - 1) * len + b0 * block;
                        int x3 = Math.min(ta + 3, n - 1) * len + b0 * block;
                        int a = tt * TileKernels.TOKENS * aStride;
                        for (int rt = 0; rt < rowTiles; rt++) {
                            TileKernels.dot4x4(tile, rt * TileKernels.ROWS * chunk, chunk, xr, x0, x1, x2, x3, floats,
                                    acc, a + rt * TileKernels.ROWS * VectorMath.L, aStride);
                        }
                    }
                }
                for (int t = t0; t < t1; t++) {
                    int a = (t - t0) * aStride;
                    int yo = yOff + t * yStride;
                    for (int r = r0; r < r1; r++) {
                        y[yo + r] = VectorMath.sumLanes(FloatVector.fromArray(F, acc, a + (r - r0) * VectorMath.L));
                    }
                }
            }
        }
    }

    /**
     * Block {@code b} of row {@code r} as fp32 in the prepared order: plane {@code (w, i)} is nibble {@code i} of
     * word {@code w} left in place ({@link #nibble}) times the group scale, plane 32 the scale itself (it meets
     * {@code −8 · Σ x}). Every value is exact: a 4-bit integer times a power of two (at most 2^24) times a BF16
     * scale (group scales are far below the 2^100 where that would overflow).
     */
    private static void dequantBlock(Int4Weight w, int r, int b, float[] out, int off) {
        int lanes = w.lanes();
        long wo = (long) r * w.wordsPerRow() + (long) b * WPG * lanes;
        FloatVector sc = scale(w.scales(), (long) r * w.scalesPerRow() + (long) b * lanes);
        MemorySegment words = w.words();
        for (int ww = 0; ww < WPG; ww++) {
            IntVector word = word(words, wo + (long) ww * lanes);
            int p = off + ww * NIB * lanes;
            for (int i = 0; i < NIB; i++) {
                nibble(word, i).mul(sc).intoArray(out, p + i * lanes);
            }
        }
        sc.intoArray(out, off + Int4Group32.GROUP * lanes);
    }

    /** Prepared activations larger than this no longer stay in L1 next to the streaming weights. */
    private static final int L1_ACTIVATION_BYTES = 16 << 10;

    /**
     * One token. When the prepared activation row is too large for L1 (K2.5 gate/up: 29.6 KB), rows go in fours
     * (then a pair) that share each activation load, cutting the L2 traffic (per core, 2048×7168: one row 6.6,
     * pairs 7.0-7.1, fours 7.5-8.1 GB/s); short rows keep one row at a time with four accumulators (pairs cost
     * 7168×2048 9.7 → 7.0 GB/s).
     */
    private static void single(Int4Weight w, int r0, int r1, int b0, int b1, float[] xr, int t, float[] y, int yRow) {
        int r = r0;
        if ((long) preparedLength(w) * Float.BYTES > L1_ACTIVATION_BYTES) {
            for (; r + 3 < r1; r += 4) {
                rowQuad(w, r, b0, b1, xr, t, y, yRow);
            }
            for (; r + 1 < r1; r += 2) {
                rowPair(w, r, b0, b1, xr, t, y, yRow);
            }
        }
        for (; r < r1; r++) {
            row(w, r, b0, b1, xr, t, y, yRow);
        }
    }

    /** Four rows share each activation load: a quarter of the L2 traffic of one row at a time. */
    private static void rowQuad(Int4Weight w, int r, int b0, int b1, float[] xr, int t, float[] y, int yRow) {
        int lanes = w.lanes();
        int wpr = w.wordsPerRow();
        int spr = w.scalesPerRow();
        int o0 = t * preparedLength(w);
        int block = blockLength(w);
        MemorySegment words = w.words();
        MemorySegment scales = w.scales();
        int w0 = r * wpr;
        FloatVector t0 = FloatVector.zero(F);
        FloatVector t1 = FloatVector.zero(F);
        FloatVector t2 = FloatVector.zero(F);
        FloatVector t3 = FloatVector.zero(F);
        for (int b = b0; b < b1; b++) {
            int xo = o0 + b * block;
            FloatVector sums = FloatVector.fromArray(F, xr, xo + Int4Group32.GROUP * lanes);
            FloatVector a0 = sums;
            FloatVector a1 = sums;
            FloatVector a2 = sums;
            FloatVector a3 = sums;
            for (int ww = 0; ww < WPG; ww++) {
                int wo = w0 + (b * WPG + ww) * lanes;
                IntVector p0 = word(words, wo);
                IntVector p1 = word(words, wo + wpr);
                IntVector p2 = word(words, wo + 2 * wpr);
                IntVector p3 = word(words, wo + 3 * wpr);
                int xw = xo + ww * NIB * lanes;
                for (int i = 0; i < NIB; i++) {
                    FloatVector x = FloatVector.fromArray(F, xr, xw + i * lanes);
                    a0 = nibble(p0, i).fma(x, a0);
                    a1 = nibble(p1, i).fma(x, a1);
                    a2 = nibble(p2, i).fma(x, a2);
                    a3 = nibble(p3, i).fma(x, a3);
                }
            }
            int so = r * spr + b * lanes;
            t0 = a0.fma(scale(scales, so), t0);
            t1 = a1.fma(scale(scales, so + spr), t1);
            t2 = a2.fma(scale(scales, so + 2 * spr), t2);
            t3 = a3.fma(scale(scales, so + 3 * spr), t3);
        }
        y[yRow + r] += VectorMath.sumLanes(t0);
        y[yRow + r + 1] += VectorMath.sumLanes(t1);
        y[yRow + r + 2] += VectorMath.sumLanes(t2);
        y[yRow + r + 3] += VectorMath.sumLanes(t3);
    }

    private static void rowPair(Int4Weight w, int r, int b0, int b1, float[] xr, int t, float[] y, int yRow) {
        int lanes = w.lanes();
        int wpr = w.wordsPerRow();
        int spr = w.scalesPerRow();
        int o0 = t * preparedLength(w);
        int block = blockLength(w);
        MemorySegment words = w.words();
        MemorySegment scales = w.scales();
        int wa = r * wpr;
        int wb = wa + wpr;
        FloatVector ta = FloatVector.zero(F);
        FloatVector tb = FloatVector.zero(F);
        for (int b = b0; b < b1; b++) {
            int xo = o0 + b * block;
            FloatVector a0 = FloatVector.fromArray(F, xr, xo + Int4Group32.GROUP * lanes);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector c0 = a0;
            FloatVector c1 = FloatVector.zero(F);
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
        int block = blockLength(w);
        MemorySegment words = w.words();
        MemorySegment scales = w.scales();
        int wBase = r * wpr;
        FloatVector total = FloatVector.zero(F);
        for (int b = b0; b < b1; b++) {
            int xo = o0 + b * block;
            FloatVector a0 = FloatVector.fromArray(F, xr, xo + Int4Group32.GROUP * lanes);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            int wo = wBase + b * WPG * lanes;
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
