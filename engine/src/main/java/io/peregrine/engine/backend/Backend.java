package io.peregrine.engine.backend;

/**
 * The compute seam between the model and the hardware. The model code is written once against this
 * interface; the CPU backend (the reference) and the CUDA backend (module {@code kernels}) implement it.
 * A backend owns native resources (thread pools, device memory), hence {@link AutoCloseable}.
 */
public interface Backend extends AutoCloseable {

    /** A short name for logs and metrics, e.g. {@code cpu} or {@code cuda:0}. */
    String name();

    @Override
    void close();
}
