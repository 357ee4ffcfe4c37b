package io.peregrine.engine.backend;

/**
 * The shape checks of {@link Backend}'s contract, shared by every backend so that a mis-shaped call is refused with
 * the same message whichever backend runs it.
 */
public final class OperandChecks {
    private OperandChecks() {}

    /** {@code y = x · Wᵀ}: x has W's columns, y one row per row of x. */
    public static void product(LinearWeight w, Activation x, Activation y) {
        if (x.cols() != w.cols() || x.rows() != y.rows()) {
            throw new IllegalArgumentException(w.name() + " [" + w.rows() + ", " + w.cols() + "]: x is [" + x.rows()
                    + ", " + x.cols() + "], y is [" + y.rows() + ", " + y.cols() + "]");
        }
    }

    /** A head-blocked weight: {@code heads} blocks of {@code headRows} rows, of which the band {@code row0 + rows}. */
    public static void heads(LinearWeight w, int heads, int headRows, int row0, int rows) {
        if (heads <= 0 || row0 < 0 || rows < 0 || row0 + rows > headRows || (long) heads * headRows > w.rows()) {
            throw new IllegalArgumentException(w.name() + ": " + heads + " heads of " + headRows + " rows, band "
                    + row0 + "+" + rows + " do not fit " + w.rows() + " rows");
        }
    }

    /** Per-head operands: as many rows in x as in y, and at least the columns the heads read and write. */
    public static void headRows(Activation x, Activation y, long xCols, long yCols, LinearWeight w) {
        if (x.rows() != y.rows() || x.cols() < xCols || y.cols() < yCols) {
            throw new IllegalArgumentException(w.name() + " per head: x is [" + x.rows() + ", " + x.cols()
                    + "], needs " + xCols + " columns; y is [" + y.rows() + ", " + y.cols() + "], needs " + yCols);
        }
    }

    /** A row gather or scatter: the same width on both sides and one index per {@code mapped} row. */
    public static void rowMap(Activation src, Indices rows, Activation dst, int mapped) {
        if (src.cols() != dst.cols() || rows.length() != mapped) {
            throw new IllegalArgumentException(rows.length() + " row indices between [" + src.rows() + ", "
                    + src.cols() + "] and [" + dst.rows() + ", " + dst.cols() + "]");
        }
    }

    /** A MoE block over {@code x}: the block's width, one router row of all its experts and one output row per token. */
    public static void moe(MoeBlock block, Activation x, Activation logits, Activation out) {
        int n = x.rows();
        if ((block.hidden() > 0 && x.cols() != block.hidden()) || logits.rows() != n
                || logits.cols() != block.router().experts() || out.rows() != n || out.cols() != x.cols()) {
            throw new IllegalArgumentException("MoE over x [" + n + ", " + x.cols() + "]: router logits ["
                    + logits.rows() + ", " + logits.cols() + "], out [" + out.rows() + ", " + out.cols() + "] for "
                    + block.router().experts() + " experts of hidden " + block.hidden());
        }
    }

    // ---- the vision tower ------------------------------------------------------------------------------------

    /** A {@code [1, cols]} vector operand (norm gain, bias). */
    public static void rowVector(Activation v, int cols, String what) {
        if (v.rows() != 1 || v.cols() != cols) {
            throw new IllegalArgumentException(what + ": [" + v.rows() + ", " + v.cols() + "], expected [1, " + cols + "]");
        }
    }

    /** Per-row pair rotation: one cos/sin row per row of x, and the heads' pairs inside x. */
    public static void rotatePairs(Activation x, int heads, int headStride, Activation cos, Activation sin) {
        int pairs = cos.cols();
        if (cos.rows() != x.rows() || sin.rows() != x.rows() || sin.cols() != pairs || heads < 0
                || (heads > 0 && (long) (heads - 1) * headStride + 2L * pairs > x.cols())) {
            throw new IllegalArgumentException("pair rotation over [" + x.rows() + ", " + x.cols() + "]: cos ["
                    + cos.rows() + ", " + cos.cols() + "], sin [" + sin.rows() + ", " + sin.cols() + "], " + heads
                    + " heads of stride " + headStride);
        }
    }

    /** Segment attention: q, k, v, out of one shape, whole heads, and segment bounds rising from 0 to the row count. */
    public static void segments(Activation q, Activation k, Activation v, int heads, int bounds,
                                java.util.function.IntUnaryOperator bound, Activation out) {
        if (heads <= 0 || q.cols() % heads != 0 || k.rows() != q.rows() || v.rows() != q.rows()
                || out.rows() != q.rows() || k.cols() != q.cols() || v.cols() != q.cols() || out.cols() != q.cols()
                || bounds < 1) {
            throw new IllegalArgumentException("segment attention: q [" + q.rows() + ", " + q.cols() + "], k ["
                    + k.rows() + ", " + k.cols() + "], v [" + v.rows() + ", " + v.cols() + "], out [" + out.rows()
                    + ", " + out.cols() + "], " + heads + " heads, " + bounds + " segment bounds");
        }
        int prev = 0;
        for (int s = 0; s < bounds; s++) {
            int b = bound.applyAsInt(s);
            if ((s == 0 && b != 0) || b < prev || (s == bounds - 1 && b != q.rows())) {
                throw new IllegalArgumentException("segment bounds must rise from 0 to " + q.rows() + "; bound " + s
                        + " is " + b);
            }
            prev = b;
        }
    }
}
