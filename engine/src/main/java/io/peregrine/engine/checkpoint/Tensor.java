package io.peregrine.engine.checkpoint;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A zero-copy view of one stored tensor: its bytes stay in the memory-mapped file. Shape is row-major
 * (C order), as safetensors stores it.
 */
public record Tensor(String name, DType dtype, long[] shape, MemorySegment data) {

    public static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public Tensor {
        shape = shape.clone();
        if (data.byteSize() != numel(shape) * dtype.bytes()) {
            throw new IllegalArgumentException("tensor " + name + ": " + data.byteSize() + " bytes for shape "
                    + Arrays.toString(shape) + " of " + dtype);
        }
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public long numel() {
        return numel(shape);
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Element {@code i} (flat index) widened to float; for BF16, F16, F32 and the integer types. */
    public float getFloat(long i) {
        return switch (dtype) {
            case BF16 -> Float.intBitsToFloat(data.getAtIndex(BF16, i) << 16);
            case F16 -> Float.float16ToFloat(data.getAtIndex(BF16, i));
            case F32 -> data.getAtIndex(F32, i);
            case I32 -> data.getAtIndex(I32, i);
            case I64 -> data.getAtIndex(I64, i);
            case U8 -> Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, i));
            case I8 -> data.get(ValueLayout.JAVA_BYTE, i);
            default -> throw new UnsupportedOperationException("getFloat on " + dtype + " tensor " + name);
        };
    }

    /** Copies the whole tensor into a new float array (small tensors and tests only). */
    public float[] toFloatArray() {
        long n = numel();
        if (n > Integer.MAX_VALUE) {
            throw new IllegalStateException("tensor " + name + " too large to copy: " + n);
        }
        float[] out = new float[(int) n];
        for (int i = 0; i < out.length; i++) {
            out[i] = getFloat(i);
        }
        return out;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
