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

    public static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Element {@code i} (flat index) widened to float (I64 and F64 round to the nearest float); every dtype. */
    public float getFloat(long i) {
        return switch (dtype) {
            case BF16 -> Float.intBitsToFloat(data.getAtIndex(BF16, i) << 16);
            case F16 -> Float.float16ToFloat(data.getAtIndex(BF16, i));
            case F32 -> data.getAtIndex(F32, i);
            case F64 -> (float) data.getAtIndex(F64, i);
            case I16 -> data.getAtIndex(BF16, i);
            case I32 -> data.getAtIndex(I32, i);
            case I64 -> data.getAtIndex(I64, i);
            case U8 -> Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, i));
            case I8 -> data.get(ValueLayout.JAVA_BYTE, i);
            case BOOL -> data.get(ValueLayout.JAVA_BYTE, i) != 0 ? 1f : 0f;
            case F8_E4M3 -> e4m3ToFloat(data.get(ValueLayout.JAVA_BYTE, i));
            // E5M2 is the upper byte of an IEEE half.
            case F8_E5M2 -> Float.float16ToFloat((short) (data.get(ValueLayout.JAVA_BYTE, i) << 8));
        };
    }

    /** OCP FP8 E4M3 ("fn"): bias 7, no infinities, S.1111.111 is NaN. */
    static float e4m3ToFloat(byte b) {
        int sign = (b & 0x80) != 0 ? -1 : 1;
        int exp = (b >>> 3) & 0xF;
        int man = b & 0x7;
        if (exp == 0xF && man == 0x7) {
            return Float.NaN;
        }
        float mag = exp == 0 ? man * 0x1p-9f : Math.scalb(1f + man / 8f, exp - 7);
        return sign * mag;
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
