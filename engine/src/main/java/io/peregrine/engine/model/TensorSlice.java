package io.peregrine.engine.model;

import io.peregrine.engine.checkpoint.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** A band of a stored tensor along one dimension: the rank's part of a split weight. */
final class TensorSlice {
    private TensorSlice() {}

    /**
     * Indices {@code [start, start + length)} of dimension {@code dim} of {@code t}. Along the first dimension the
     * band is contiguous, a view of the mapped file; along the second of a matrix it is copied out row by row (the
     * copy is the rank's own: {@code o_proj} and {@code down_proj} by input columns).
     */
    static Tensor of(Tensor t, int dim, long start, long length) {
        long[] shape = t.shape();
        if (start == 0 && length == shape[dim]) {
            return t;
        }
        long element = t.dtype().bytes();
        long[] part = shape.clone();
        part[dim] = length;
        if (dim == 0) {
            long row = Tensor.numel(shape) / Math.max(1, shape[0]) * element;
            return new Tensor(t.name(), t.dtype(), part, t.data().asSlice(start * row, length * row));
        }
        if (dim != 1 || shape.length != 2) {
            throw new IllegalArgumentException("cannot split " + t + " along dimension " + dim);
        }
        long rowBytes = shape[1] * element;
        long partBytes = length * element;
        MemorySegment out = Arena.ofAuto().allocate(shape[0] * partBytes, 64);
        for (long r = 0; r < shape[0]; r++) {
            MemorySegment.copy(t.data(), r * rowBytes + start * element, out, r * partBytes, partBytes);
        }
        return new Tensor(t.name(), t.dtype(), part, out);
    }
}
