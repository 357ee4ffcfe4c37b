package io.peregrine.engine.backend;

import java.util.Objects;

/**
 * An {@link Activation} on the Java heap: row {@code r} of the tensor is {@code data[offset + r·stride ..]}. The CPU
 * backend computes on these in place; a host-memory {@link io.peregrine.engine.kv.LatentCache} holds its slabs in
 * them.
 */
public record HostTensor(float[] data, int offset, int rows, int cols, int stride) implements Activation {

    public HostTensor {
        if (rows < 0 || cols < 0 || offset < 0 || stride < cols) {
            throw new IllegalArgumentException("tensor [" + rows + ", " + cols + "] at " + offset + " stride " + stride);
        }
        if (rows > 0 && (long) offset + (long) (rows - 1) * stride + cols > data.length) {
            throw new IndexOutOfBoundsException("[" + rows + ", " + cols + "] at " + offset + " stride " + stride
                    + " does not fit " + data.length + " floats");
        }
    }

    /** A dense {@code [rows, cols]} tensor over a fresh array. */
    public static HostTensor zeros(int rows, int cols) {
        return new HostTensor(new float[Math.multiplyExact(rows, cols)], 0, rows, cols, cols);
    }

    @Override
    public HostTensor rows(int first, int count) {
        Objects.checkFromIndexSize(first, count, rows);
        return new HostTensor(data, offset + first * stride, count, cols, stride);
    }

    @Override
    public HostTensor cols(int first, int count) {
        Objects.checkFromIndexSize(first, count, cols);
        return new HostTensor(data, offset + first, rows, count, stride);
    }

    /** Index of element {@code (r, c)} in {@link #data}. */
    public int at(int r, int c) {
        return offset + r * stride + c;
    }

    /** Rows packed back to back. */
    public boolean dense() {
        return stride == cols || rows <= 1;
    }
}
