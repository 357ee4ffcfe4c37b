package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.LinearWeight;
import java.util.Objects;

/**
 * The argument checks of every {@link CudaBackend} operation, done on the host before anything is staged or
 * launched: a bad offset or length is an exception naming the operation, never a device fault or a silent read
 * past an array. Static and device-free, so CI tests them.
 */
final class BackendArgs {
    private BackendArgs() {}

    /** {@code n} rows of {@code width} floats at {@code off}, {@code stride} apart, fit {@code a}. */
    static void rows(float[] a, int off, int stride, int n, int width, String what) {
        Objects.requireNonNull(a, what);
        if (n < 0 || width < 0) {
            throw new IllegalArgumentException(what + ": " + n + " rows of " + width);
        }
        if (n == 0) {
            return;
        }
        if (off < 0 || stride < width || (long) off + (long) (n - 1) * stride + width > a.length) {
            throw new IndexOutOfBoundsException(what + ": " + n + " rows of " + width + " at offset " + off
                    + " stride " + stride + " do not fit " + a.length + " floats");
        }
    }

    static void range(float[] a, int off, long len, String what) {
        Objects.requireNonNull(a, what);
        if (off < 0 || len < 0 || off + len > a.length) {
            throw new IndexOutOfBoundsException(what + ": " + len + " floats at offset " + off + " do not fit "
                    + a.length);
        }
    }

    static DeviceWeight cuda(LinearWeight w) {
        if (w instanceof DeviceWeight d) {
            return d;
        }
        throw new IllegalArgumentException("not a CUDA weight: " + (w == null ? "null" : w.name() + " ("
                + w.getClass().getName() + ")") + "; upload it with this backend");
    }

    static DeviceWeight.Bf16 bf16(LinearWeight w, String op) {
        if (cuda(w) instanceof DeviceWeight.Bf16 b) {
            return b;
        }
        throw new IllegalArgumentException(op + " needs a BF16 weight, got " + w.name() + " (INT4)");
    }

    static void band(LinearWeight w, int row0, int rows) {
        if (row0 < 0 || rows < 0 || (long) row0 + rows > w.rows()) {
            throw new IndexOutOfBoundsException(w.name() + ": rows " + row0 + "+" + rows + " outside its " + w.rows());
        }
    }

    /** The per-head product's geometry (see {@code Backend.matmulHeads}). */
    static void heads(DeviceWeight.Bf16 b, boolean transposed, int heads, int headRows, int row0, int rows, float[] x,
                      int xOff, int xStride, float[] y, int yOff, int yStride) {
        if (heads <= 0 || row0 < 0 || rows < 0 || row0 + rows > headRows || (long) heads * headRows > b.rows()) {
            throw new IllegalArgumentException(b.name() + ": " + heads + " heads of " + headRows + " rows, band "
                    + row0 + "+" + rows + " do not fit " + b.rows() + " rows");
        }
        int xLen = transposed ? rows : b.cols();
        int yLen = transposed ? b.cols() : rows;
        rows(x, xOff, xStride, heads, xLen, "x of " + b.name() + " per head");
        rows(y, yOff, yStride, heads, yLen, "y of " + b.name() + " per head");
    }

    static void attentionNaive(float[] q, int tokens, int startPos, float[] kv, float[] kPe, int heads, int nope,
                               int rope, int vDim, float[] out) {
        if (tokens < 0 || startPos < 0 || heads < 1 || nope < 0 || rope < 0 || vDim < 1) {
            throw new IllegalArgumentException("naive attention: tokens " + tokens + ", start " + startPos + ", heads "
                    + heads + ", nope " + nope + ", rope " + rope + ", v " + vDim);
        }
        if (nope + rope > 512 || vDim > 256) {
            throw new IllegalArgumentException("naive attention: q/k dim " + (nope + rope) + " over 512 or v dim " + vDim
                    + " over 256 (the CUDA kernel's shared-memory query and two output dims per thread)");
        }
        long positions = (long) startPos + tokens;
        range(q, 0, (long) tokens * heads * (nope + rope), "naive attention q");
        range(kv, 0, positions * heads * (nope + vDim), "naive attention kv");
        range(kPe, 0, positions * rope, "naive attention k_pe");
        range(out, 0, (long) tokens * heads * vDim, "naive attention out");
    }

    static void attentionAbsorbed(float[] qLat, int qLatOff, float[] qPe, int qPeOff, int qPeStride, int heads,
                                  int kvRank, int rope, float[] slab, int[] slots, int count, float[] outLat,
                                  int outOff) {
        if (heads < 1 || kvRank < 1 || rope < 0 || count < 0) {
            throw new IllegalArgumentException("absorbed attention: heads " + heads + ", kv rank " + kvRank + ", rope "
                    + rope + ", count " + count);
        }
        range(qLat, qLatOff, (long) heads * kvRank, "absorbed attention q_lat");
        rows(qPe, qPeOff, qPeStride, heads, rope, "absorbed attention q_pe");
        range(outLat, outOff, (long) heads * kvRank, "absorbed attention out");
        Objects.requireNonNull(slots, "slots");
        if (slots.length < count) {
            throw new IndexOutOfBoundsException("absorbed attention: " + count + " positions but " + slots.length + " slots");
        }
        int width = kvRank + rope;
        long slabSlots = slab.length / width;
        for (int s = 0; s < count; s++) {
            if (slots[s] < 0 || slots[s] >= slabSlots) {
                throw new IndexOutOfBoundsException("absorbed attention: position " + s + " has slot " + slots[s]
                        + ", the slab holds " + slabSlots + " slots of width " + width);
            }
        }
    }
}
