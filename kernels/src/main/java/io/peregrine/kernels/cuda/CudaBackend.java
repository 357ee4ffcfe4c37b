package io.peregrine.kernels.cuda;

import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.kernels.layout.Int4ExpertStack;
import io.peregrine.kernels.layout.TileSchedule;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The engine's {@link Backend} on one CUDA device, over the kernels of {@link DeviceOps}. Weights are uploaded once
 * into device memory ({@link DeviceWeight}); activations arrive as host {@code float[]} (the interface's contract),
 * so each call stages its inputs in a pinned buffer, copies them over in one transfer, launches, copies the outputs
 * back in one transfer and synchronises once, all on the context's one stream.
 *
 * <p>That per-call round trip is the price of running the unchanged model code: activation-resident execution and
 * decode steps replayed as CUDA graphs need a Backend whose operations take device handles (the next step; see
 * {@code docs/performance.md}). Calls are serialised by a lock, since they share the staging buffers.
 *
 * <p>Numerics: by default every product is the fp32-accumulating GEMV (activations stay fp32, as on the CPU
 * backend), so the golden fp32 tolerances apply. {@link Options#tensorCoreMinTokens} sends products of at least that
 * many tokens to the mma.sync kernels instead, which round activations to bf16 (faster prefill, bf16 tolerances).
 */
public final class CudaBackend implements Backend {
    /** Upload chunk for weights larger than one staging fill (the lm_head of K2.5 is 2.3 GB). */
    static final long UPLOAD_CHUNK = 64L << 20;

    /**
     * @param tensorCoreMinTokens products over at least this many tokens use the bf16 tensor-core kernels; 0 = never
     * @param poisonOutputs       fill each call's device outputs with NaN before its kernels run (checks: a value
     *                            a kernel failed to write comes back NaN instead of last call's data)
     */
    public record Options(int tensorCoreMinTokens, boolean poisonOutputs) {
        public static final Options FP32 = new Options(0, false);

        public Options {
            if (tensorCoreMinTokens < 0) {
                throw new IllegalArgumentException("tensorCoreMinTokens " + tensorCoreMinTokens + " < 0");
            }
        }

        boolean tensorCores(int n) {
            return tensorCoreMinTokens > 0 && n >= tensorCoreMinTokens;
        }
    }

    private final CudaContext ctx;
    private final DeviceOps ops;
    private final Options options;
    private final PinnedStaging staging;
    private final List<DeviceBuffer> weights = new ArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final String name;
    private boolean closed;

    private CudaBackend(CudaContext ctx, Options options, String name) {
        this.ctx = ctx;
        this.ops = new DeviceOps(ctx);
        this.options = options;
        this.staging = new PinnedStaging(ctx);
        this.name = name;
    }

    /** Opens device {@code ordinal}'s primary context and loads the kernels; the backend owns and closes them. */
    public static CudaBackend open(int ordinal, Options options) {
        CudaContext ctx = CudaContext.open(ordinal);
        try {
            return new CudaBackend(ctx, options, "cuda:" + ordinal);
        } catch (RuntimeException e) {
            ctx.close();
            throw e;
        }
    }

    public CudaContext context() {
        return ctx;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            ctx.makeCurrent();
            ctx.sync();
            weights.forEach(DeviceBuffer::close);
            weights.clear();
            staging.close();
            ctx.close();
        } finally {
            lock.unlock();
        }
    }

    // ---- weights -------------------------------------------------------------------------------------------

    @Override
    public LinearWeight upload(Tensor weight) {
        int[] shape = DeviceWeightLayout.bf16Shape(weight);
        lock.lock();
        try {
            enter();
            DeviceBuffer d = keep(ctx.alloc(weight.data().byteSize()));
            copyToDevice(weight.data(), d);
            return new DeviceWeight.Bf16(weight.name(), shape[0], shape[1], d);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public LinearWeight upload(Int4Group32 weight) {
        lock.lock();
        try {
            enter();
            Int4ExpertStack s = DeviceWeightLayout.int4Stack(weight);
            DeviceBuffer words = keep(ctx.alloc(s.wordBytes()));
            DeviceBuffer scales = keep(ctx.alloc(s.scaleBytes()));
            StagingLayout l = StagingLayout.of(new long[] {s.wordBytes(), s.scaleBytes()}, new long[0]);
            staging.ensure(l.end());
            MemorySegment host = staging.host();
            DeviceWeightLayout.writeInt4Image(weight, host.asSlice(l.input(0), s.wordBytes()),
                    host.asSlice(l.input(1), s.scaleBytes()));
            cuMemcpyHtoDAsync(words.ptr(), jcudaHost(l.input(0)), s.wordBytes(), ctx.stream());
            cuMemcpyHtoDAsync(scales.ptr(), jcudaHost(l.input(1)), s.scaleBytes(), ctx.stream());
            ctx.sync();
            return new DeviceWeight.Int4(weight.module(), weight.rows(), weight.cols(), s, words, scales);
        } finally {
            lock.unlock();
        }
    }

    private DeviceBuffer keep(DeviceBuffer b) {
        weights.add(b);
        return b;
    }

    private jcuda.Pointer jcudaHost(long offset) {
        return staging.hostPointer(offset);
    }

    /** Copies host bytes (mapped checkpoint memory) to the device through the pinned buffer, a chunk at a time. */
    private void copyToDevice(MemorySegment src, DeviceBuffer dst) {
        long total = src.byteSize();
        staging.ensure(Math.min(total, UPLOAD_CHUNK));
        for (long at = 0; at < total; at += UPLOAD_CHUNK) {
            long n = Math.min(UPLOAD_CHUNK, total - at);
            MemorySegment.copy(src, at, staging.host(), 0, n);
            cuMemcpyHtoDAsync(dst.ptr().withByteOffset(at), jcudaHost(0), n, ctx.stream());
            ctx.sync();  // the next chunk overwrites the staging buffer
        }
    }

    // ---- products ------------------------------------------------------------------------------------------

    @Override
    public void matmul(LinearWeight w, int row0, int rows, float[] x, int xOff, int xStride, int n,
                       float[] y, int yOff, int yStride) {
        DeviceWeight dw = BackendArgs.cuda(w);
        BackendArgs.band(w, row0, rows);
        BackendArgs.rows(x, xOff, xStride, n, w.cols(), "x of " + w.name());
        BackendArgs.rows(y, yOff, yStride, n, rows, "y of " + w.name());
        if (n == 0 || rows == 0) {
            return;
        }
        // the INT4 tile table grows by 12 bytes per 64 tokens; 16 per token bounds it
        int chunk = StagingLayout.rowsPerChunk(4L * (w.cols() + rows) + 16);
        lock.lock();
        try {
            for (int t0 = 0; t0 < n; t0 += chunk) {
                int m = Math.min(chunk, n - t0);
                int[] table = launchTable(dw, m);
                StagingLayout l = StagingLayout.of(new long[] {4L * m * w.cols(), 4L * table.length},
                        new long[] {4L * m * rows});
                begin(l);
                putRows(l.input(0), x, xOff + t0 * xStride, xStride, m, w.cols());
                staging.putInts(l.input(1), table, 0, table.length);
                send(l);
                product(dw, row0, rows, staging.device(l.input(0)), m, staging.device(l.output(0)),
                        staging.device(l.input(1)));
                receive(l);
                getRows(l.output(0), y, yOff + t0 * yStride, yStride, m, rows);
            }
        } finally {
            lock.unlock();
        }
    }

    /** One batch of independent products: one copy in, every launch, one copy out, one synchronisation. */
    @Override
    public void matmulAll(LinearWeight[] ws, float[][] xs, int[] ns, float[][] ys) {
        Backend.checkMatmulAll(ws, xs, ns, ys);
        int k = ws.length;
        long[] in = new long[2 * k];
        long[] out = new long[k];
        DeviceWeight[] dws = new DeviceWeight[k];
        int[][] tables = new int[k][];
        long total = 0;
        for (int i = 0; i < k; i++) {
            dws[i] = BackendArgs.cuda(ws[i]);
            BackendArgs.rows(xs[i], 0, ws[i].cols(), ns[i], ws[i].cols(), "x of " + ws[i].name());
            BackendArgs.rows(ys[i], 0, ws[i].rows(), ns[i], ws[i].rows(), "y of " + ws[i].name());
            tables[i] = launchTable(dws[i], ns[i]);
            in[i] = 4L * ns[i] * ws[i].cols();
            in[k + i] = 4L * tables[i].length;
            out[i] = 4L * ns[i] * ws[i].rows();
            total += in[i] + in[k + i] + out[i] + 3L * StagingLayout.ALIGN;
        }
        if (total > StagingLayout.MAX_CAPACITY) {
            for (int i = 0; i < k; i++) {  // too large for one staging fill: one product at a time
                matmul(ws[i], xs[i], ns[i], ys[i]);
            }
            return;
        }
        lock.lock();
        try {
            StagingLayout l = StagingLayout.of(in, out);
            begin(l);
            for (int i = 0; i < k; i++) {
                staging.putFloats(l.input(i), xs[i], 0, ns[i] * ws[i].cols());
                staging.putInts(l.input(k + i), tables[i], 0, tables[i].length);
            }
            send(l);
            for (int i = 0; i < k; i++) {
                if (ns[i] > 0) {
                    product(dws[i], 0, ws[i].rows(), staging.device(l.input(i)), ns[i], staging.device(l.output(i)),
                            staging.device(l.input(k + i)));
                }
            }
            receive(l);
            for (int i = 0; i < k; i++) {
                staging.getFloats(l.output(i), ys[i], 0, ns[i] * ws[i].rows());
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The int table an INT4 launch reads from the device, staged with the activations. The decode kernel sees one
     * expert (0) owning all {@code n} rows: {@code active = [0]}, {@code nActive = 1}, {@code offsets = [0, n]}. The
     * tensor-core kernel reads its tile list: experts, first rows, row counts. BF16 products need none.
     */
    int[] launchTable(DeviceWeight w, int n) {
        if (w instanceof DeviceWeight.Bf16) {
            return new int[0];
        }
        return int4LaunchTable(options.tensorCores(n), n);
    }

    static int[] int4LaunchTable(boolean tensorCores, int n) {
        if (!tensorCores) {
            return new int[] {0, 1, 0, n};
        }
        TileSchedule t = TileSchedule.of(new int[] {0, n}, Geometries.MMA_TILE);
        int tiles = t.size();
        int[] table = new int[3 * tiles];
        System.arraycopy(t.expert(), 0, table, 0, tiles);
        System.arraycopy(t.row0(), 0, table, tiles, tiles);
        System.arraycopy(t.rows(), 0, table, 2 * tiles, tiles);
        return table;
    }

    /** {@code y[n][rows] = x[n][cols] · W[row0 .. row0+rows)ᵀ}, x and y dense on the device; {@code table} as staged. */
    private void product(DeviceWeight w, int row0, int rows, DeviceBuffer x, int n, DeviceBuffer y, DeviceBuffer table) {
        int cols = w.cols();
        switch (w) {
            case DeviceWeight.Bf16 b -> {
                if (options.tensorCores(n) && cols % Geometries.MMA_K_STEP == 0) {
                    ops.bf16Gemm(b.fromRow(row0), rows, cols, x, cols, n, y, rows);
                } else {
                    ops.bf16Gemv(b.fromRow(row0), rows, cols, x, cols, n, y, rows);
                }
            }
            case DeviceWeight.Int4 q -> {
                Int4ExpertStack band = new Int4ExpertStack(1, rows, cols);
                if (options.tensorCores(n)) {
                    int tiles = (n + Geometries.MMA_TILE - 1) / Geometries.MMA_TILE;
                    ops.int4GroupedGemm(band, q.wordsFromRow(row0), q.scalesFromRow(row0), tiles, table,
                            table.at(4L * tiles), table.at(8L * tiles), x, cols, KernelArgs.NULL, y, rows);
                } else {
                    ops.int4GroupedGemv(band, q.wordsFromRow(row0), q.scalesFromRow(row0), table, table.at(4),
                            table.at(8), x, cols, KernelArgs.NULL, y, rows, n, 1);
                }
            }
        }
    }

    @Override
    public void matmulTransposed(LinearWeight w, int row0, int rows, float[] x, int xOff, float[] y, int yOff) {
        DeviceWeight.Bf16 b = BackendArgs.bf16(w, "the transposed product");
        BackendArgs.band(w, row0, rows);
        BackendArgs.range(x, xOff, rows, "x of " + w.name());
        BackendArgs.range(y, yOff, b.cols(), "y of " + w.name());
        lock.lock();
        try {
            StagingLayout l = StagingLayout.of(new long[] {4L * rows}, new long[] {4L * b.cols()});
            begin(l);
            staging.putFloats(l.input(0), x, xOff, rows);
            send(l);
            ops.bf16GemvTransposed(b.fromRow(row0), rows, b.cols(), staging.device(l.input(0)), staging.device(l.output(0)));
            receive(l);
            staging.getFloats(l.output(0), y, yOff, b.cols());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void matmulHeads(LinearWeight w, boolean transposed, int heads, int headRows, int row0, int rows,
                            float[] x, int xOff, int xStride, float[] y, int yOff, int yStride) {
        DeviceWeight.Bf16 b = BackendArgs.bf16(w, "per-head products");
        BackendArgs.heads(b, transposed, heads, headRows, row0, rows, x, xOff, xStride, y, yOff, yStride);
        int cols = b.cols();
        int xLen = transposed ? rows : cols;
        int yLen = transposed ? cols : rows;
        int xs = (xLen + 3) / 4 * 4;  // the GEMV reads float4 activations: each head's slice 16-byte aligned
        long wHead = (long) headRows * cols;
        lock.lock();
        try {
            StagingLayout l = StagingLayout.of(new long[] {4L * heads * xs}, new long[] {4L * heads * yLen});
            begin(l);
            for (int h = 0; h < heads; h++) {
                staging.putFloats(l.input(0) + 4L * h * xs, x, xOff + h * xStride, xLen);
            }
            send(l);
            DeviceBuffer dx = staging.device(l.input(0));
            DeviceBuffer dy = staging.device(l.output(0));
            if (rows > 0) {
                if (transposed) {
                    ops.bf16GemvTransposedHeads(b.fromRow(row0), rows, cols, wHead, dx, xs, 0, dy, yLen, 0, heads, 1);
                } else {
                    ops.bf16GemvHeads(b.fromRow(row0), rows, cols, wHead, dx, xs, xs, 1, dy, yLen, yLen, heads);
                }
            }
            receive(l);
            getRows(l.output(0), y, yOff, yStride, heads, yLen);
        } finally {
            lock.unlock();
        }
    }

    // ---- row-wise and element-wise -------------------------------------------------------------------------

    @Override
    public void rmsNorm(float[] x, int xOff, int xStride, int n, int dim, float[] weight, float eps,
                        float[] out, int outOff, int outStride) {
        if (weight.length != dim) {
            throw new IllegalArgumentException("RMSNorm weight has " + weight.length + " values for dim " + dim);
        }
        BackendArgs.rows(x, xOff, xStride, n, dim, "RMSNorm x");
        BackendArgs.rows(out, outOff, outStride, n, dim, "RMSNorm out");
        if (n == 0) {
            return;
        }
        lock.lock();
        try {
            StagingLayout l = StagingLayout.of(new long[] {4L * n * dim, 4L * dim}, new long[] {4L * n * dim});
            begin(l);
            putRows(l.input(0), x, xOff, xStride, n, dim);
            staging.putFloats(l.input(1), weight, 0, dim);
            send(l);
            ops.rmsNorm(staging.device(l.input(0)), dim, n, dim, staging.device(l.input(1)), eps,
                    staging.device(l.output(0)), dim);
            receive(l);
            getRows(l.output(0), out, outOff, outStride, n, dim);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void ropeInterleaved(float[] x, int off, int pos, float[] invFreq, float mscale) {
        int pairs = invFreq.length;
        BackendArgs.range(x, off, 2L * pairs, "RoPE x");
        if (pairs == 0) {
            return;
        }
        lock.lock();
        try {
            // rotated in place: the input region is also what comes back
            StagingLayout l = StagingLayout.of(new long[] {8L * pairs, 4, 4L * pairs}, new long[0]);
            begin(l);
            staging.putFloats(l.input(0), x, off, 2 * pairs);
            staging.putInts(l.input(1), new int[] {pos}, 0, 1);
            staging.putFloats(l.input(2), invFreq, 0, pairs);
            staging.toDevice(0, l.inputEnd());
            ops.ropeInterleaved(staging.device(l.input(0)), 1, 2 * pairs, 1, 2 * pairs, 0, staging.device(l.input(1)),
                    staging.device(l.input(2)), pairs, mscale);
            staging.toHostAndWait(l.input(0), l.input(0) + 8L * pairs);
            staging.getFloats(l.input(0), x, off, 2 * pairs);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void siluMul(float[] gate, float[] up, float[] out, int len) {
        BackendArgs.range(gate, 0, len, "SiLU gate");
        BackendArgs.range(up, 0, len, "SiLU up");
        BackendArgs.range(out, 0, len, "SiLU out");
        if (len == 0) {
            return;
        }
        lock.lock();
        try {
            // the kernel reads one fused gate||up row: stage the halves back to back
            StagingLayout l = StagingLayout.of(new long[] {8L * len}, new long[] {4L * len});
            begin(l);
            staging.putFloats(l.input(0), gate, 0, len);
            staging.putFloats(l.input(0) + 4L * len, up, 0, len);
            send(l);
            ops.siluMul(staging.device(l.input(0)), staging.device(l.output(0)), 1, len);
            receive(l);
            staging.getFloats(l.output(0), out, 0, len);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int len) {
        BackendArgs.range(x, xOff, len, "axpy x");
        BackendArgs.range(y, yOff, len, "axpy y");
        if (len == 0) {
            return;
        }
        lock.lock();
        try {
            StagingLayout l = StagingLayout.of(new long[] {4L * len, 4L * len}, new long[0]);
            begin(l);
            staging.putFloats(l.input(0), x, xOff, len);
            staging.putFloats(l.input(1), y, yOff, len);
            staging.toDevice(0, l.inputEnd());
            ops.axpy(a, staging.device(l.input(0)), staging.device(l.input(1)), len);
            staging.toHostAndWait(l.input(1), l.input(1) + 4L * len);
            staging.getFloats(l.input(1), y, yOff, len);
        } finally {
            lock.unlock();
        }
    }

    // ---- attention -----------------------------------------------------------------------------------------

    @Override
    public void attentionNaive(float[] q, int tokens, int startPos, float[] kv, float[] kPe, int heads, int nope,
                               int rope, int vDim, float scale, float[] out) {
        BackendArgs.attentionNaive(q, tokens, startPos, kv, kPe, heads, nope, rope, vDim, out);
        if (tokens == 0) {
            return;
        }
        int positions = startPos + tokens;
        int qLen = tokens * heads * (nope + rope);
        int kvLen = positions * heads * (nope + vDim);
        int peLen = positions * rope;
        int outLen = tokens * heads * vDim;
        lock.lock();
        try {
            StagingLayout l = StagingLayout.of(new long[] {4L * qLen, 4L * kvLen, 4L * peLen}, new long[] {4L * outLen});
            begin(l);
            staging.putFloats(l.input(0), q, 0, qLen);
            staging.putFloats(l.input(1), kv, 0, kvLen);
            staging.putFloats(l.input(2), kPe, 0, peLen);
            send(l);
            ops.mlaPrefill(staging.device(l.input(0)), tokens, staging.device(l.input(1)), staging.device(l.input(2)),
                    heads, nope, rope, vDim, startPos, scale, staging.device(l.output(0)));
            receive(l);
            staging.getFloats(l.output(0), out, 0, outLen);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void attentionAbsorbed(float[] qLat, int qLatOff, float[] qPe, int qPeOff, int qPeStride, int heads,
                                  int kvRank, int rope, float[] slab, int[] slots, int count, float scale,
                                  float[] outLat, int outOff) {
        BackendArgs.attentionAbsorbed(qLat, qLatOff, qPe, qPeOff, qPeStride, heads, kvRank, rope, slab, slots, count,
                outLat, outOff);
        int width = kvRank + rope;
        lock.lock();
        try {
            StagingLayout l = StagingLayout.of(
                    new long[] {4L * heads * kvRank, 4L * heads * rope, 4L * count * width},
                    new long[] {4L * heads * kvRank});
            begin(l);
            staging.putFloats(l.input(0), qLat, qLatOff, heads * kvRank);
            for (int h = 0; h < heads; h++) {
                staging.putFloats(l.input(1) + 4L * h * rope, qPe, qPeOff + h * qPeStride, rope);
            }
            // gather the sequence's cache slots into position order: the kernel reads them contiguously
            for (int s = 0; s < count; s++) {
                staging.putFloats(l.input(2) + 4L * s * width, slab, slots[s] * width, width);
            }
            send(l);
            ops.mlaAbsorbedF32(staging.device(l.input(0)), staging.device(l.input(1)), rope, heads, kvRank, rope,
                    staging.device(l.input(2)), count, scale, staging.device(l.output(0)));
            receive(l);
            staging.getFloats(l.output(0), outLat, outOff, heads * kvRank);
        } finally {
            lock.unlock();
        }
    }

    // ---- staging -------------------------------------------------------------------------------------------

    /** Under the lock, at every entry point: refuses a closed backend and binds the context to this thread. */
    private void enter() {
        if (closed) {
            throw new IllegalStateException(name + " is closed");
        }
        ctx.makeCurrent();
    }

    private void begin(StagingLayout l) {
        enter();
        staging.ensure(l.end());
    }

    private void send(StagingLayout l) {
        staging.toDevice(0, l.inputEnd());
        if (options.poisonOutputs()) {
            staging.poison(l.outputStart(), l.end(), DeviceBuffer.POISON_F32);
        }
    }

    private void receive(StagingLayout l) {
        staging.toHostAndWait(l.outputStart(), l.end());
    }

    private void putRows(long at, float[] src, int off, int stride, int n, int width) {
        if (stride == width) {
            staging.putFloats(at, src, off, n * width);
            return;
        }
        for (int t = 0; t < n; t++) {
            staging.putFloats(at + 4L * t * width, src, off + t * stride, width);
        }
    }

    private void getRows(long at, float[] dst, int off, int stride, int n, int width) {
        if (stride == width) {
            staging.getFloats(at, dst, off, n * width);
            return;
        }
        for (int t = 0; t < n; t++) {
            staging.getFloats(at + 4L * t * width, dst, off + t * stride, width);
        }
    }
}
