package io.peregrine.kernels.cuda;

import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.kernels.layout.Int4ExpertStack;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The device image of each weight kind and the byte offsets of row bands in it, as plain arithmetic the CPU tests
 * check against the checkpoint's own dequantiser. Kept apart from {@link CudaBackend} so none of it needs a device.
 */
public final class DeviceWeightLayout {
    /** BF16 products load 8 weights (16 bytes) at a time. */
    public static final int BF16_COL_MULTIPLE = 8;

    private DeviceWeightLayout() {}

    /**
     * Checks a tensor can be a BF16 device weight and returns its {@code [rows, cols]}.
     *
     * @throws IllegalArgumentException naming the tensor and what is wrong
     */
    public static int[] bf16Shape(Tensor t) {
        if (t.rank() != 2 || t.dtype() != DType.BF16) {
            throw new IllegalArgumentException("linear weight " + t.name() + " must be 2-D BF16, got " + t);
        }
        if (t.dim(0) > Integer.MAX_VALUE || t.dim(1) > Integer.MAX_VALUE || t.dim(0) < 1 || t.dim(1) < 1) {
            throw new IllegalArgumentException("linear weight " + t.name() + ": bad shape " + t);
        }
        int cols = (int) t.dim(1);
        if (cols % BF16_COL_MULTIPLE != 0) {
            throw new IllegalArgumentException("linear weight " + t.name() + ": " + cols + " columns; the CUDA products "
                    + "read 16-byte vectors and need a multiple of " + BF16_COL_MULTIPLE);
        }
        return new int[] {(int) t.dim(0), cols};
    }

    public static long bf16RowOffset(int row0, int cols) {
        return 2L * row0 * cols;
    }

    /** Packed words of rows before {@code row0}: {@code cols / 8} words of 4 bytes each. */
    public static long int4WordOffset(int row0, int cols) {
        return (long) row0 * (cols / Int4Group32.PER_WORD) * 4;
    }

    /** BF16 scales of rows before {@code row0}: {@code cols / 32} of 2 bytes each. */
    public static long int4ScaleOffset(int row0, int cols) {
        return (long) row0 * (cols / Int4Group32.GROUP) * 2;
    }

    /** A one-expert stack for the weight (its device layout). */
    public static Int4ExpertStack int4Stack(Int4Group32 q) {
        return new Int4ExpertStack(1, q.rows(), q.cols());
    }

    /**
     * Writes the device image of {@code q} into host memory: the words at {@code words}, the scales at
     * {@code scales} (each at least {@link Int4ExpertStack#wordBytes()} / {@link Int4ExpertStack#scaleBytes()} long).
     */
    public static Int4ExpertStack writeInt4Image(Int4Group32 q, MemorySegment words, MemorySegment scales) {
        Int4ExpertStack s = int4Stack(q);
        s.write(0, List.of(q), words, scales, false);
        return s;
    }
}
