package io.peregrine.engine.backend;

import java.util.Arrays;

/**
 * Tensors on the Java heap ({@link HostTensor}, {@link HostIndices}): the CPU backend's memory, and the memory of a
 * latent cache built without a backend (scheduler tests, fake models). Holds no state.
 */
public class HostMemory implements TensorMemory {

    @Override
    public HostTensor allocate(int rows, int cols) {
        return HostTensor.zeros(rows, cols);
    }

    @Override
    public HostIndices allocateIndices(int length) {
        return new HostIndices(new int[length], 0, length);
    }

    @Override
    public void copyIn(float[] src, int srcOff, Activation dst) {
        HostTensor d = host(dst);
        for (int r = 0; r < d.rows(); r++) {
            System.arraycopy(src, srcOff + r * d.cols(), d.data(), d.at(r, 0), d.cols());
        }
    }

    @Override
    public void copyIn(int[] src, int srcOff, Indices dst) {
        HostIndices d = host(dst);
        System.arraycopy(src, srcOff, d.data(), d.offset(), d.length());
    }

    @Override
    public void copyOut(Activation src, float[] dst, int dstOff) {
        HostTensor s = host(src);
        for (int r = 0; r < s.rows(); r++) {
            System.arraycopy(s.data(), s.at(r, 0), dst, dstOff + r * s.cols(), s.cols());
        }
    }

    @Override
    public void copyOut(Indices src, int[] dst, int dstOff) {
        HostIndices s = host(src);
        System.arraycopy(s.data(), s.offset(), dst, dstOff, s.length());
    }

    @Override
    public void copy(Activation src, Activation dst) {
        TensorMemory.sameShape(src, dst, "copy");
        HostTensor s = host(src);
        HostTensor d = host(dst);
        if (s.dense() && d.dense()) {
            System.arraycopy(s.data(), s.offset(), d.data(), d.offset(), s.rows() * s.cols());
            return;
        }
        for (int r = 0; r < s.rows(); r++) {
            System.arraycopy(s.data(), s.at(r, 0), d.data(), d.at(r, 0), s.cols());
        }
    }

    @Override
    public void zero(Activation x) {
        HostTensor t = host(x);
        for (int r = 0; r < t.rows(); r++) {
            Arrays.fill(t.data(), t.at(r, 0), t.at(r, 0) + t.cols(), 0f);
        }
    }

    /** {@code a} as a heap tensor, or a clear error naming the backend it came from. */
    public static HostTensor host(Activation a) {
        if (a instanceof HostTensor t) {
            return t;
        }
        throw new IllegalArgumentException("not a host tensor: " + a.getClass().getName());
    }

    public static HostIndices host(Indices a) {
        if (a instanceof HostIndices t) {
            return t;
        }
        throw new IllegalArgumentException("not host indices: " + a.getClass().getName());
    }
}
