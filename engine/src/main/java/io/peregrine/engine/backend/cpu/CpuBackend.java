package io.peregrine.engine.backend.cpu;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import java.lang.foreign.Arena;
import java.util.Objects;

/**
 * The reference backend: plain Java and the Vector API on the CPU. BF16 weights are read in place from the
 * mapped checkpoint; INT4 weights are repacked once ({@link Int4Weight}) into off-heap memory the backend owns.
 * Its compute pool is its own, sized at construction; {@link #close()} stops it and frees the repacked weights.
 *
 * <p>A batch of tokens normally goes through tiled kernels ({@link TileKernels}: weights dequantised once per band
 * into a cached fp32 tile, four rows × four tokens per register tile); their sums run in another order than the
 * one-token kernel's, so a token's product differs in its last bits between a batch and a step of its own.
 * Batch-invariant mode runs every token through the one-token kernel instead (slower prefill, the same decode), so
 * a token's bits do not depend on its neighbours.
 */
public final class CpuBackend implements Backend {
    /** Multiply-adds below which a parallel split costs more than it saves. */
    private static final int MIN_WORK_PER_CHUNK = 1 << 16;

    private final ComputePool pool;
    private final boolean batchInvariant;
    /** Repacked weights live here until {@link #close()}. */
    private final Arena weights = Arena.ofShared();

    public CpuBackend(int threads) {
        this(threads, false);
    }

    public CpuBackend(int threads, boolean batchInvariant) {
        this.pool = new ComputePool(threads);
        this.batchInvariant = batchInvariant;
    }

    public boolean batchInvariant() {
        return batchInvariant;
    }

    public int threads() {
        return pool.threads();
    }

    /**
     * Which kernels run the products, for the start-up log and the metrics' info gauge: the Vector API at this
     * JVM's preferred width (the only path today; it is what C2 compiles to the machine's widest vectors).
     */
    public String kernelPath() {
        return "vector-api-" + VectorMath.F.vectorBitSize() + "bit";
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public void close() {
        pool.close();
        weights.close();
    }

    @Override
    public LinearWeight upload(Tensor weight) {
        if (weight.rank() != 2 || weight.dtype() != DType.BF16) {
            throw new IllegalArgumentException("linear weight " + weight.name() + " must be 2-D BF16, got " + weight);
        }
        return new Bf16Weight(weight.name(), Math.toIntExact(weight.dim(0)), Math.toIntExact(weight.dim(1)), weight.data());
    }

    @Override
    public LinearWeight upload(Int4Group32 weight) {
        return Int4Weight.repack(weight, VectorMath.L, weights);
    }

    @Override
    public void matmul(LinearWeight w, int row0, int rows, float[] x, int xOff, int xStride, int n,
                       float[] y, int yOff, int yStride) {
        Objects.checkFromIndexSize(row0, rows, w.rows());
        if (n == 0 || rows == 0) {
            return;
        }
        checkRows(x, xOff, xStride, n, w.cols(), "x of " + w.name());
        checkRows(y, yOff, yStride, n, rows, "y of " + w.name());
        if (batchInvariant && n > 1) {
            for (int t = 0; t < n; t++) {
                matmul(w, row0, rows, x, xOff + t * xStride, xStride, 1, y, yOff + t * yStride, yStride);
            }
            return;
        }
        int minRows = Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, w.cols() * Math.min(n, 4)));
        switch (w) {
            case Bf16Weight b -> pool.parallelFor(rows, minRows, (lo, hi) ->
                    Bf16Kernels.matmul(b.data(), b.cols(), row0, lo, hi, x, xOff, xStride, n, y, yOff, yStride));
            case Int4Weight q -> {
                if (row0 != 0 || rows != q.rows()) {
                    throw new IllegalArgumentException(q.name() + ": INT4 products cover whole weights, not rows "
                            + row0 + ".." + (row0 + rows - 1));
                }
                float[] xr = new float[n * Int4Kernels.preparedLength(q)];
                Int4Kernels.prepare(q, x, xOff, xStride, n, xr);
                pool.parallelFor(rows, minRows, (lo, hi) -> Int4Kernels.matmul(q, lo, hi, xr, n, y, yOff, yStride));
            }
            default -> throw new IllegalArgumentException("not a CPU weight: " + w.getClass().getName());
        }
    }

    @Override
    public void matmulAll(LinearWeight[] ws, float[][] xs, int[] ns, float[][] ys) {
        if (batchInvariant) {
            // one weight at a time through matmul, whose row chunks are those of every other call of that weight
            Backend.super.matmulAll(ws, xs, ns, ys);
            return;
        }
        Backend.checkMatmulAll(ws, xs, ns, ys);
        int k = ws.length;
        float[][] prepared = new float[k][];
        int[] chunkRows = new int[k];
        int[] firstChunk = new int[k + 1];
        for (int i = 0; i < k; i++) {
            LinearWeight w = ws[i];
            checkRows(xs[i], 0, w.cols(), ns[i], w.cols(), "x of " + w.name());
            checkRows(ys[i], 0, w.rows(), ns[i], w.rows(), "y of " + w.name());
            if (w instanceof Int4Weight q) {
                prepared[i] = new float[ns[i] * Int4Kernels.preparedLength(q)];
                Int4Kernels.prepare(q, xs[i], 0, q.cols(), ns[i], prepared[i]);
            } else if (!(w instanceof Bf16Weight)) {
                throw new IllegalArgumentException("not a CPU weight: " + w.getClass().getName());
            }
            int minRows = Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, w.cols() * Math.min(Math.max(ns[i], 1), 4)));
            chunkRows[i] = Math.max(minRows, (w.rows() + 2 * threads() - 1) / (2 * threads()));
            firstChunk[i + 1] = firstChunk[i] + (ns[i] == 0 ? 0 : (w.rows() + chunkRows[i] - 1) / chunkRows[i]);
        }
        pool.parallelFor(firstChunk[k], 1, (lo, hi) -> {
            for (int c = lo; c < hi; c++) {
                int i = 0;
                while (firstChunk[i + 1] <= c) {
                    i++;
                }
                int r0 = (c - firstChunk[i]) * chunkRows[i];
                int r1 = Math.min(ws[i].rows(), r0 + chunkRows[i]);
                switch (ws[i]) {
                    case Bf16Weight b -> Bf16Kernels.matmul(b.data(), b.cols(), 0, r0, r1, xs[i], 0, b.cols(), ns[i],
                            ys[i], 0, b.rows());
                    case Int4Weight q -> Int4Kernels.matmul(q, r0, r1, prepared[i], ns[i], ys[i], 0, q.rows());
                    default -> throw new IllegalStateException();
                }
            }
        });
    }

    @Override
    public void matmulTransposed(LinearWeight w, int row0, int rows, float[] x, int xOff, float[] y, int yOff) {
        Objects.checkFromIndexSize(row0, rows, w.rows());
        if (!(w instanceof Bf16Weight b)) {
            throw new IllegalArgumentException("transposed product needs a BF16 weight, got " + w.name());
        }
        Objects.checkFromIndexSize(xOff, rows, x.length);
        Objects.checkFromIndexSize(yOff, b.cols(), y.length);
        Bf16Kernels.matmulTransposed(b.data(), b.cols(), row0, rows, x, xOff, y, yOff, 0, b.cols());
    }

    @Override
    public void matmulHeads(LinearWeight w, boolean transposed, int heads, int headRows, int row0, int rows,
                            float[] x, int xOff, int xStride, float[] y, int yOff, int yStride) {
        if (!(w instanceof Bf16Weight b)) {
            throw new IllegalArgumentException("per-head products need a BF16 weight, got " + w.name());
        }
        if (heads <= 0 || row0 < 0 || rows < 0 || row0 + rows > headRows || (long) heads * headRows > b.rows()) {
            throw new IllegalArgumentException(w.name() + ": " + heads + " heads of " + headRows + " rows, band "
                    + row0 + "+" + rows + " do not fit " + b.rows() + " rows");
        }
        int xLen = transposed ? rows : b.cols();
        int yLen = transposed ? b.cols() : rows;
        Objects.checkFromIndexSize(xOff, (long) (heads - 1) * xStride + xLen, x.length);
        Objects.checkFromIndexSize(yOff, (long) (heads - 1) * yStride + yLen, y.length);
        pool.parallelFor(heads, Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, rows * b.cols())), (lo, hi) -> {
            for (int h = lo; h < hi; h++) {
                int first = h * headRows + row0;
                if (transposed) {
                    Bf16Kernels.matmulTransposed(b.data(), b.cols(), first, rows, x, xOff + h * xStride, y,
                            yOff + h * yStride, 0, b.cols());
                } else {
                    Bf16Kernels.matmul(b.data(), b.cols(), first, 0, rows, x, xOff + h * xStride, b.cols(), 1, y,
                            yOff + h * yStride, rows);
                }
            }
        });
    }

    @Override
    public void rmsNorm(float[] x, int xOff, int xStride, int n, int dim, float[] weight, float eps,
                        float[] out, int outOff, int outStride) {
        if (weight.length != dim) {
            throw new IllegalArgumentException("RMSNorm weight has " + weight.length + " values for dim " + dim);
        }
        for (int t = 0; t < n; t++) {
            VectorMath.rmsNorm(x, xOff + t * xStride, dim, weight, eps, out, outOff + t * outStride);
        }
    }

    @Override
    public void ropeInterleaved(float[] x, int off, int pos, float[] invFreq, float mscale) {
        VectorMath.ropeInterleaved(x, off, pos, invFreq, mscale);
    }

    @Override
    public void siluMul(float[] gate, float[] up, float[] out, int len) {
        VectorMath.siluMul(gate, up, out, len);
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int len) {
        VectorMath.axpy(a, x, xOff, y, yOff, len);
    }

    @Override
    public void attentionNaive(float[] q, int tokens, int startPos, float[] kv, float[] kPe, int heads, int nope,
                               int rope, int vDim, float scale, float[] out) {
        int positions = startPos + tokens;
        int minPairs = Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, positions * (nope + rope + vDim)));
        pool.parallelFor(tokens * heads, minPairs, (lo, hi) -> {
            float[] scores = new float[positions];
            for (int p = lo; p < hi; p++) {
                AttentionKernels.naive(q, p / heads, p % heads, startPos, kv, kPe, heads, nope, rope, vDim, scale, out,
                        scores, true);
            }
        });
    }

    @Override
    public void attentionAbsorbed(float[] qLat, int qLatOff, float[] qPe, int qPeOff, int qPeStride, int heads,
                                  int kvRank, int rope, float[] slab, int[] slots, int count, float scale,
                                  float[] outLat, int outOff) {
        int minHeads = Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, count * (2 * kvRank + rope)));
        pool.parallelFor(heads, minHeads, (lo, hi) -> {
            float[] scores = new float[count];
            for (int h = lo; h < hi; h++) {
                AttentionKernels.absorbed(qLat, qLatOff, qPe, qPeOff, qPeStride, h, kvRank, rope, slab, slots, count,
                        scale, outLat, outOff, scores, true);
            }
        });
    }

    private static void checkRows(float[] a, int off, int stride, int n, int width, String what) {
        if (off < 0 || stride < width || (long) off + (long) (n - 1) * stride + width > a.length) {
            throw new IndexOutOfBoundsException(what + ": " + n + " rows of " + width + " at offset " + off
                    + " stride " + stride + " do not fit " + a.length + " floats");
        }
    }
}
