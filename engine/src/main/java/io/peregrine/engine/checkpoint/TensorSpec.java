package io.peregrine.engine.checkpoint;

import java.util.Arrays;

/**
 * A tensor a model needs: its checkpoint name, element type and shape, derived from the config alone.
 *
 * @param parameters   the model weights this tensor holds: the logical {@code out * in} for an INT4
 *                     {@code weight_packed}, 0 for scales and shape vectors, else its element count
 * @param routedExpert whether it belongs to a routed MoE expert (only top-k of those run per token)
 */
public record TensorSpec(String name, DType dtype, long[] shape, long parameters, boolean routedExpert) {

    public TensorSpec {
        shape = shape.clone();
    }

    /** A plain tensor whose every element is a parameter. */
    public static TensorSpec of(String name, DType dtype, long... shape) {
        return new TensorSpec(name, dtype, shape, Tensor.numel(shape), false);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long numel() {
        return Tensor.numel(shape);
    }

    public long byteSize() {
        return Math.multiplyExact(numel(), dtype.bytes());
    }

    public boolean isVision() {
        return name.startsWith("vision_tower.") || name.startsWith("mm_projector.");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && parameters == t.parameters && routedExpert == t.routedExpert;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
