package io.peregrine.engine.backend;

/**
 * Where a backend's tensors live and the only ways the host moves data in and out of them. Copies are explicit so
 * that the few a step needs (its inputs in, its logits or sampled ids out) are visible in the code that makes them.
 * Host arrays are dense row-major; a tensor may be a strided view.
 */
public interface TensorMemory {

    /** A zeroed {@code [rows, cols]} fp32 tensor. */
    Activation allocate(int rows, int cols);

    /** A zeroed int32 vector. */
    Indices allocateIndices(int length);

    /** {@code dst ← src[srcOff ..]}, {@code dst.rows() × dst.cols()} values. */
    void copyIn(float[] src, int srcOff, Activation dst);

    /** {@code dst ← src[srcOff ..]}, {@code dst.length()} values. */
    void copyIn(int[] src, int srcOff, Indices dst);

    /** {@code dst[dstOff ..] ← src}, {@code src.rows() × src.cols()} values. */
    void copyOut(Activation src, float[] dst, int dstOff);

    /** {@code dst[dstOff ..] ← src}, {@code src.length()} values. */
    void copyOut(Indices src, int[] dst, int dstOff);

    /** {@code dst ← src} where both already live here (shapes equal). */
    void copy(Activation src, Activation dst);

    /** {@code x ← 0}. */
    void zero(Activation x);

    /** A {@code [1, values.length]} tensor holding {@code values}: norm gains, biases, rotary frequencies. */
    default Activation vector(float[] values) {
        Activation v = allocate(1, values.length);
        copyIn(values, 0, v);
        return v;
    }

    /** Checks that two tensors have the same shape. */
    static void sameShape(Activation a, Activation b, String what) {
        if (a.rows() != b.rows() || a.cols() != b.cols()) {
            throw new IllegalArgumentException(what + ": [" + a.rows() + ", " + a.cols() + "] vs [" + b.rows() + ", "
                    + b.cols() + "]");
        }
    }
}
