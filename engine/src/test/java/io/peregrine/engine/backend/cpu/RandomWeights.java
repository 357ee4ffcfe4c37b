package io.peregrine.engine.backend.cpu;

import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/** Random weights in the stored formats, in off-heap memory like a mapped checkpoint. */
final class RandomWeights {
    private RandomWeights() {}

    static Tensor bf16(Random rnd, int rows, int cols) {
        MemorySegment seg = Arena.ofAuto().allocate((long) rows * cols * 2, 2);
        for (long i = 0; i < (long) rows * cols; i++) {
            seg.setAtIndex(Tensor.BF16, i, (short) (Float.floatToRawIntBits((float) rnd.nextGaussian()) >>> 16));
        }
        return new Tensor("w", DType.BF16, new long[] {rows, cols}, seg);
    }

    static Int4Group32 int4(Random rnd, int rows, int cols) {
        MemorySegment packed = Arena.ofAuto().allocate((long) rows * cols / 2, 4);
        for (long i = 0; i < (long) rows * cols / 8; i++) {
            packed.setAtIndex(Tensor.I32, i, rnd.nextInt());
        }
        int groups = cols / 32;
        MemorySegment scale = Arena.ofAuto().allocate((long) rows * groups * 2, 2);
        for (long i = 0; i < (long) rows * groups; i++) {
            float s = (float) (0.01 + 0.1 * rnd.nextDouble());
            scale.setAtIndex(Tensor.BF16, i, (short) (Float.floatToRawIntBits(s) >>> 16));
        }
        return new Int4Group32("w", rows, cols,
                new Tensor("w.weight_packed", DType.I32, new long[] {rows, cols / 8}, packed),
                new Tensor("w.weight_scale", DType.BF16, new long[] {rows, groups}, scale));
    }

    static float[] floats(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }
}
