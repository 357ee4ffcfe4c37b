package io.peregrine.engine.checkpoint;

import java.util.Arrays;

/**
 * A compressed-tensors {@code pack-quantized} INT4 weight, group 32, symmetric (spec §2.2), viewed in place:
 * {@code weight_packed} int32 {@code [rows, cols/8]} holds column {@code 8j+i} in bits {@code 4i..4i+3} of word
 * {@code j} (least-significant nibble first) with a +8 offset; {@code weight_scale} bf16 {@code [rows, cols/32]}.
 * {@code W[r, c] = (nibble - 8) * scale[r, c/32]}.
 */
public record Int4Group32(String module, int rows, int cols, Tensor packed, Tensor scale) {
    public static final int GROUP = 32;
    public static final int PER_WORD = 8;

    public Int4Group32 {
        if (cols % GROUP != 0) {
            throw new CheckpointException(module + ": in-features " + cols + " not a multiple of " + GROUP);
        }
        if (packed.dtype() != DType.I32 || !Arrays.equals(packed.shape(), new long[] {rows, cols / PER_WORD})) {
            throw new CheckpointException(module + ".weight_packed: expected I32[" + rows + ", " + cols / PER_WORD
                    + "], got " + packed.dtype() + Arrays.toString(packed.shape()));
        }
        if (scale.dtype() != DType.BF16 || !Arrays.equals(scale.shape(), new long[] {rows, cols / GROUP})) {
            throw new CheckpointException(module + ".weight_scale: expected BF16[" + rows + ", " + cols / GROUP
                    + "], got " + scale.dtype() + Arrays.toString(scale.shape()));
        }
    }

    /** Reads {@code module.weight_packed/.weight_scale/.weight_shape} and checks them against each other. */
    public static Int4Group32 of(Checkpoint ck, String module) {
        Tensor shape = ck.tensor(module + ".weight_shape");
        if (shape.numel() != 2 || (shape.dtype() != DType.I32 && shape.dtype() != DType.I64)) {
            throw new CheckpointException(module + ".weight_shape: expected 2 integers, got " + shape);
        }
        long rows = (long) shape.getFloat(0);
        long cols = (long) shape.getFloat(1);
        if (rows <= 0 || cols <= 0 || rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE) {
            throw new CheckpointException(module + ".weight_shape: bad shape [" + rows + ", " + cols + "]");
        }
        return new Int4Group32(module, (int) rows, (int) cols, ck.tensor(module + ".weight_packed"),
                ck.tensor(module + ".weight_scale"));
    }

    /** The stored nibble minus 8, in [-8, 7]. */
    public int q(int r, int c) {
        int word = packed.data().getAtIndex(Tensor.I32, (long) r * (cols / PER_WORD) + c / PER_WORD);
        return ((word >>> (4 * (c % PER_WORD))) & 0xF) - 8;
    }

    public float scale(int r, int group) {
        short bits = scale.data().getAtIndex(Tensor.BF16, (long) r * (cols / GROUP) + group);
        return Float.intBitsToFloat(bits << 16);
    }

    /** Reference dequantisation of one element; the scalar twin every fast INT4 kernel is tested against. */
    public float dequant(int r, int c) {
        return q(r, c) * scale(r, c / GROUP);
    }

    public void dequantRow(int r, float[] out, int offset) {
        for (int c = 0; c < cols; c++) {
            out[offset + c] = dequant(r, c);
        }
    }

    /**
     * Packs 8 quantized values {@code q[off..off+8)}, each in [-8, 7], into one word exactly as compressed-tensors'
     * {@code pack_to_int32} does: value {@code i} plus 8 in bits {@code 4i..4i+3}.
     */
    public static int packWord(int[] q, int off) {
        int word = 0;
        for (int i = 0; i < PER_WORD; i++) {
            int v = q[off + i];
            if (v < -8 || v > 7) {
                throw new IllegalArgumentException("INT4 value " + v + " at " + (off + i) + " is outside [-8, 7]");
            }
            word |= (v + 8) << (4 * i);
        }
        return word;
    }

    /** The whole matrix in fp32, row-major (tests and tiny models only). */
    public float[] dequantize() {
        float[] out = new float[Math.multiplyExact(rows, cols)];
        for (int r = 0; r < rows; r++) {
            dequantRow(r, out, r * cols);
        }
        return out;
    }
}
