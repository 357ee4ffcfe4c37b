package io.peregrine.kernels.layout;

import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The device layout of one layer's routed experts: every expert's weight {@code [rows, cols]} back to back in one
 * words buffer and one scales buffer, so a grouped kernel finds expert {@code e} at a fixed stride. An expert may be
 * several checkpoint matrices stacked along rows — {@code gate_proj} then {@code up_proj} make the fused
 * {@code [2·inter, hidden]} weight whose product {@code pg_silu_mul} splits in halves.
 *
 * <p>Inside a row the order is the checkpoint's own (spec §2.2): word {@code j} holds columns {@code 8j..8j+7},
 * least-significant nibble first, +8 offset, so four consecutive words are one group of 32 and one 16-byte load.
 * That is already what the decode kernel wants; the repack is only the stacking, done once at upload.
 */
public record Int4ExpertStack(int experts, int rows, int cols) {
    // The checkpoint's little-endian element layouts; the device is little-endian too.
    private static final ValueLayout.OfInt WORD = Tensor.I32;
    private static final ValueLayout.OfShort HALF = Tensor.BF16;

    public Int4ExpertStack {
        if (experts < 1 || rows < 1 || cols < 1 || cols % Int4Group32.GROUP != 0) {
            throw new IllegalArgumentException("expert stack " + experts + " x [" + rows + ", " + cols
                    + "]: need positive sizes and cols a multiple of " + Int4Group32.GROUP);
        }
    }

    /** 32-bit words per expert; one 16-byte vector is 4 of them. */
    public long wordsPerExpert() {
        return (long) rows * (cols / Int4Group32.PER_WORD);
    }

    public long vectorsPerExpert() {
        return wordsPerExpert() / 4;
    }

    public long scalesPerExpert() {
        return (long) rows * (cols / Int4Group32.GROUP);
    }

    public long wordBytes() {
        return 4 * wordsPerExpert() * experts;
    }

    public long scaleBytes() {
        return 2 * scalesPerExpert() * experts;
    }

    /**
     * Copies expert {@code e}, made of {@code parts} stacked along rows, into its place in the two buffers (each at
     * least {@link #wordBytes()} / {@link #scaleBytes()} long, or exactly one expert's share when
     * {@code perExpertBuffers}).
     */
    public void write(int e, List<Int4Group32> parts, MemorySegment words, MemorySegment scales, boolean perExpertBuffers) {
        if (e < 0 || e >= experts) {
            throw new IllegalArgumentException("expert " + e + " outside [0, " + experts + ")");
        }
        int total = 0;
        for (Int4Group32 p : parts) {
            if (p.cols() != cols) {
                throw new IllegalArgumentException(p.module() + ": " + p.cols() + " in-features, the stack has " + cols);
            }
            total += p.rows();
        }
        if (total != rows) {
            throw new IllegalArgumentException("expert " + e + ": parts have " + total + " rows, the stack has " + rows);
        }
        long w = perExpertBuffers ? 0 : 4 * wordsPerExpert() * e;
        long s = perExpertBuffers ? 0 : 2 * scalesPerExpert() * e;
        for (Int4Group32 p : parts) {
            long wb = p.packed().data().byteSize();
            long sb = p.scale().data().byteSize();
            MemorySegment.copy(p.packed().data(), 0, words, w, wb);
            MemorySegment.copy(p.scale().data(), 0, scales, s, sb);
            w += wb;
            s += sb;
        }
    }

    /** The dequantised weight at {@code (e, r, c)} read back from the stacked buffers; the tests' oracle of the layout. */
    public float dequant(MemorySegment words, MemorySegment scales, int e, int r, int c) {
        long word = words.getAtIndex(WORD, e * wordsPerExpert() + (long) r * (cols / 8) + c / 8);
        int q = (int) ((word >>> (4 * (c % 8))) & 0xF) - 8;
        short bits = scales.getAtIndex(HALF, e * scalesPerExpert() + (long) r * (cols / 32) + c / 32);
        return q * Float.intBitsToFloat(bits << 16);
    }

}
