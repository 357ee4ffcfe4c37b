package io.peregrine.engine.backend;

/**
 * An fp32 matrix {@code [rows, cols]} that lives where its backend computes (the Java heap for the CPU backend,
 * device memory for CUDA). Row {@code r} starts {@code r · stride} floats after row 0, so a view of some rows or of a
 * column band shares the memory of the tensor it was taken from. The host reads or writes one only through the
 * explicit copies of {@link TensorMemory}.
 */
public interface Activation {
    int rows();

    int cols();

    /** Rows {@code [first, first + count)} of this tensor, sharing its memory. */
    Activation rows(int first, int count);

    /** Columns {@code [first, first + count)} of every row, sharing its memory. */
    Activation cols(int first, int count);
}
