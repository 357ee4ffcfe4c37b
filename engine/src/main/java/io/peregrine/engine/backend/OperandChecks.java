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
}
