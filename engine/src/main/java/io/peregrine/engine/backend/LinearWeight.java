package io.peregrine.engine.backend;

/**
 * A linear layer's weight {@code W[rows, cols]} (PyTorch {@code [out_features, in_features]}) in whatever form
 * a backend keeps it: mapped BF16 bytes, a repacked INT4 layout, device memory.
 */
public interface LinearWeight {
    String name();

    int rows();

    int cols();

    /** Bytes one full pass over the weight reads (for bandwidth figures). */
    long weightBytes();
}
