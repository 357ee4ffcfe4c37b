package io.peregrine.kernels.layout;

import java.util.Arrays;

/**
 * The work list of the grouped prefill GEMM: each expert's permuted rows cut into tiles of at most {@code tile}
 * rows, one grid row per tile, so no block is launched for an expert without tokens. Built on the host from the
 * expert offsets the permutation kernel wrote (prefill is not graph-captured, so reading them back is fine).
 */
public record TileSchedule(int[] expert, int[] row0, int[] rows) {
    public TileSchedule {
        if (expert.length != row0.length || expert.length != rows.length) {
            throw new IllegalArgumentException("tile arrays differ in length");
        }
    }

    /** @param offsets {@code E + 1} non-decreasing offsets, expert {@code e} owning rows {@code offsets[e] .. offsets[e+1]-1} */
    public static TileSchedule of(int[] offsets, int tile) {
        if (tile < 1) {
            throw new IllegalArgumentException("tile " + tile);
        }
        if (offsets.length < 2 || offsets[0] != 0) {
            throw new IllegalArgumentException("offsets must start at 0 and have E+1 entries, got " + Arrays.toString(
                    Arrays.copyOf(offsets, Math.min(offsets.length, 8))));
        }
        int n = 0;
        for (int e = 0; e + 1 < offsets.length; e++) {
            int c = offsets[e + 1] - offsets[e];
            if (c < 0) {
                throw new IllegalArgumentException("offsets decrease at expert " + e + ": " + offsets[e] + " > " + offsets[e + 1]);
            }
            n += (c + tile - 1) / tile;
        }
        int[] ex = new int[n];
        int[] r0 = new int[n];
        int[] rs = new int[n];
        int i = 0;
        for (int e = 0; e + 1 < offsets.length; e++) {
            for (int p = offsets[e]; p < offsets[e + 1]; p += tile) {
                ex[i] = e;
                r0[i] = p;
                rs[i] = Math.min(tile, offsets[e + 1] - p);
                i++;
            }
        }
        return new TileSchedule(ex, r0, rs);
    }

    public int size() {
        return expert.length;
    }
}
