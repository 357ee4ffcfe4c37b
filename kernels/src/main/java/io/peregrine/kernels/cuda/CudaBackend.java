package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.InPlaceCollectives;
import io.peregrine.engine.backend.Gelu;
import io.peregrine.engine.backend.ExpertStack;
import io.peregrine.engine.backend.Indices;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.MoeBlock;
import io.peregrine.engine.backend.MoeScratch;
import io.peregrine.engine.backend.OperandChecks;
import io.peregrine.engine.backend.Product;
import io.peregrine.engine.backend.StepGraphs;
import io.peregrine.engine.backend.TensorMemory;
import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.kernels.layout.Int4ExpertStack;
import io.peregrine.kernels.layout.TileSchedule;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import jcuda.Pointer;
import jcuda.driver.CUDA_MEMCPY2D;
import jcuda.driver.CUmemorytype;

/**
 * The engine's {@link Backend} on one CUDA device, over the kernels of {@link DeviceOps}. Weights, activations, the
 * latent cache and a step's indices all live in device memory ({@link DeviceTensor}, {@link DeviceIndices}); every
 * operation is one or a few kernel launches on the context's one stream and returns without waiting. The host
 * waits only for the copies from and to Java memory (ordered on the stream, refused during a graph capture); every
 * driver call goes through {@link CudaContext}, so a recording fake sees all of it. Sampling runs on the device
 * ({@link DeviceSampler}): only sampled ids and requested logprobs come back.
 *
 * <p>A MoE layer is routed on the device ({@link #moe}): router, permutation, grouped expert GEMVs and an
 * expert-ordered combine, every launch sized from the token count, so a decode step waits for nothing before its
 * sampled ids come back and its launch list does not depend on the routing. A plain decode step is therefore captured
 * into a CUDA graph per batch bucket ({@link #stepGraphs}, driven by the model): every operation here is stream work
 * whose launch shape depends only on the padded batch. Calls are serialised by a lock.
 *
 * <p>Numerics: by default every product is the fp32-accumulating GEMV (activations stay fp32, as on the CPU
 * backend), so the golden fp32 tolerances apply. {@link Options#tensorCoreMinTokens} sends products of at least that
 * many tokens to the mma.sync kernels instead, which round activations to bf16 (faster prefill, bf16 tolerances).
 */
public final class CudaBackend implements Backend, InPlaceCollectives {
    /** Upload chunk for weights (the lm_head of K2.5 is 2.3 GB). */
    static final long UPLOAD_CHUNK = 64L << 20;

    /**
     * @param tensorCoreMinTokens products over at least this many tokens use the bf16 tensor-core kernels; 0 = never
     * @param poisonOutputs       fill each product's output with NaN before its kernel runs (checks: a value a kernel
     *                            failed to write comes back NaN instead of an earlier step's data)
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
    private final List<DeviceBuffer> owned = new ArrayList<>();
    /** INT4 launch tables by (tensor cores, tokens): uploaded once, read by every later product of that size. */
    private final Map<Long, DeviceBuffer> launchTables = new HashMap<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final String name;
    private DeviceTensor scratch;
    private final DeviceSampler sampler;
    private final CudaStepGraphs graphs;
    private boolean closed;

    /** Over an open context (a fake one in the CPU tests); the backend owns and closes it. */
    CudaBackend(CudaContext ctx, Options options, String name) {
        this.ctx = ctx;
        this.ops = new DeviceOps(ctx);
        this.options = options;
        this.name = name;
        this.sampler = new DeviceSampler(ctx, lock);
        this.graphs = new CudaStepGraphs(ctx, lock);
    }

    /** Opens device {@code ordinal}'s primary context and loads the kernels; the backend owns and closes them. */
    public static CudaBackend open(int ordinal, Options options) {
        return open(ordinal, options, null);
    }

    /** As {@link #open(int, Options)}, with every launch, copy and synchronisation counted by {@code counter}. */
    public static CudaBackend open(int ordinal, Options options, TrafficCounter counter) {
        CudaContext ctx = CudaContext.open(ordinal, counter);
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
            sampler.close();
            owned.forEach(DeviceBuffer::close);
            owned.clear();
            ctx.close();
        } finally {
            lock.unlock();
        }
    }

    /** CUDA graphs on the context's stream: the model captures its plain decode steps per batch bucket. */
    @Override
    public Optional<StepGraphs> stepGraphs() {
        return Optional.of(graphs);
    }

    // ---- memory ----------------------------------------------------------------------------------------------

    @Override
    public DeviceTensor allocate(int rows, int cols) {
        lock.lock();
        try {
            enter();
            DeviceTensor t = new DeviceTensor(keep(ctx.alloc(4L * rows * cols)), rows, cols, cols);
            fill(t, 0);
            return t;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public DeviceIndices allocateIndices(int length) {
        lock.lock();
        try {
            enter();
            DeviceBuffer b = keep(ctx.alloc(4L * length));
            ctx.fill2D32(b.ptr(), 4L * Math.max(1, length), 0, Math.max(1, length), 1);
            return new DeviceIndices(b, length, new int[length], 0);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void copyIn(float[] src, int srcOff, Activation dst) {
        DeviceTensor d = device(dst);
        Objects.checkFromIndexSize(srcOff, d.size(), src.length);
        if (d.size() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            // ordered after the kernels on the stream that may still read dst; returns once src is copied
            CUDA_MEMCPY2D m = new CUDA_MEMCPY2D();
            m.srcMemoryType = CUmemorytype.CU_MEMORYTYPE_HOST;
            m.srcHost = Pointer.to(src).withByteOffset(4L * srcOff);
            m.srcPitch = 4L * d.cols();
            m.dstMemoryType = CUmemorytype.CU_MEMORYTYPE_DEVICE;
            m.dstDevice = d.base().ptr();
            m.dstPitch = 4L * d.stride();
            m.WidthInBytes = 4L * d.cols();
            m.Height = d.rows();
            ctx.copy2D(m);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void copyIn(int[] src, int srcOff, Indices dst) {
        DeviceIndices d = indices(dst);
        Objects.checkFromIndexSize(srcOff, d.length(), src.length);
        System.arraycopy(src, srcOff, d.host(), d.hostOffset(), d.length());
        if (d.length() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ctx.copyToDevice(d.base().ptr(), Pointer.to(src).withByteOffset(4L * srcOff), 4L * d.length());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void copyOut(Activation src, float[] dst, int dstOff) {
        DeviceTensor s = device(src);
        Objects.checkFromIndexSize(dstOff, s.size(), dst.length);
        if (s.size() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            CUDA_MEMCPY2D m = new CUDA_MEMCPY2D();
            m.srcMemoryType = CUmemorytype.CU_MEMORYTYPE_DEVICE;
            m.srcDevice = s.base().ptr();
            m.srcPitch = 4L * s.stride();
            m.dstMemoryType = CUmemorytype.CU_MEMORYTYPE_HOST;
            m.dstHost = Pointer.to(dst).withByteOffset(4L * dstOff);
            m.dstPitch = 4L * s.cols();
            m.WidthInBytes = 4L * s.cols();
            m.Height = s.rows();
            ctx.copy2D(m);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void copyOut(Indices src, int[] dst, int dstOff) {
        DeviceIndices s = indices(src);
        Objects.checkFromIndexSize(dstOff, s.length(), dst.length);
        if (s.length() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ctx.copyToHost(Pointer.to(dst).withByteOffset(4L * dstOff), s.base().ptr(), 4L * s.length());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void copy(Activation src, Activation dst) {
        TensorMemory.sameShape(src, dst, "copy");
        DeviceTensor s = device(src);
        DeviceTensor d = device(dst);
        if (s.size() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            deviceCopy(s, d);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void zero(Activation x) {
        lock.lock();
        try {
            enter();
            fill(device(x), 0);
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
        try (Arena host = Arena.ofConfined()) {
            enter();
            Int4ExpertStack s = DeviceWeightLayout.int4Stack(weight);
            DeviceBuffer words = keep(ctx.alloc(s.wordBytes()));
            DeviceBuffer scales = keep(ctx.alloc(s.scaleBytes()));
            MemorySegment w = host.allocate(s.wordBytes(), 16);
            MemorySegment sc = host.allocate(s.scaleBytes(), 16);
            DeviceWeightLayout.writeInt4Image(weight, w, sc);
            copyToDevice(w, words);
            copyToDevice(sc, scales);
            return new DeviceWeight.Int4(weight.module(), weight.rows(), weight.cols(), s, words, scales);
        } finally {
            lock.unlock();
        }
    }

    /**
     * As {@link #upload(Int4Group32)}, but not kept until close: {@link #release} frees it. The copy is synchronous
     * (pageable host memory), so a streamed expert costs its bytes over PCIe before its products are queued.
     */
    @Override
    public LinearWeight uploadTransient(Int4Group32 weight) {
        lock.lock();
        try (Arena host = Arena.ofConfined()) {
            enter();
            Int4ExpertStack s = DeviceWeightLayout.int4Stack(weight);
            DeviceBuffer words = ctx.alloc(s.wordBytes());
            DeviceBuffer scales = ctx.alloc(s.scaleBytes());
            MemorySegment w = host.allocate(s.wordBytes(), 16);
            MemorySegment sc = host.allocate(s.scaleBytes(), 16);
            DeviceWeightLayout.writeInt4Image(weight, w, sc);
            copyToDevice(w, words);
            copyToDevice(sc, scales);
            return new DeviceWeight.Int4(weight.module(), weight.rows(), weight.cols(), s, words, scales);
        } finally {
            lock.unlock();
        }
    }

    /** Waits for the stream (the products queued on the weight), then frees its two buffers. */
    @Override
    public void release(LinearWeight weight) {
        if (!(weight instanceof DeviceWeight.Int4 w)) {
            throw new IllegalArgumentException(weight.name() + " was not uploaded by uploadTransient");
        }
        lock.lock();
        try {
            enter();
            ctx.sync();
            w.words().close();
            w.scales().close();
        } finally {
            lock.unlock();
        }
    }

    /** Copies host bytes (mapped checkpoint memory) to the device, a chunk at a time. */
    private void copyToDevice(MemorySegment src, DeviceBuffer dst) {
        long total = src.byteSize();
        for (long at = 0; at < total; at += UPLOAD_CHUNK) {
            long n = Math.min(UPLOAD_CHUNK, total - at);
            ctx.copyToDevice(dst.ptr().withByteOffset(at), Pointer.to(src.asSlice(at, n).asByteBuffer()), n);
        }
    }

    // ---- products ------------------------------------------------------------------------------------------

    @Override
    public void matmul(LinearWeight w, int row0, Activation xa, Activation ya) {
        DeviceWeight dw = cuda(w);
        DeviceTensor x = device(xa);
        DeviceTensor y = device(ya);
        Objects.checkFromIndexSize(row0, y.cols(), w.rows());
        OperandChecks.product(w, x, y);
        if (x.rows() == 0 || y.cols() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            product(dw, row0, y.cols(), x, y);
        } finally {
            lock.unlock();
        }
    }

    /** Every product launched back to back on the stream; nothing waits. */
    @Override
    public void matmulAll(List<Product> products) {
        lock.lock();
        try {
            enter();
            for (Product p : products) {
                DeviceTensor x = device(p.x());
                if (x.rows() > 0) {
                    product(cuda(p.w()), 0, p.w().rows(), x, device(p.y()));
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The int table an INT4 launch reads from the device. The decode kernel sees one expert (0) owning all {@code n}
     * rows: {@code active = [0]}, {@code nActive = 1}, {@code offsets = [0, n]}. The tensor-core kernel reads its tile
     * list: experts, first rows, row counts.
     */
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

    private DeviceBuffer launchTable(boolean tensorCores, int n) {
        return launchTables.computeIfAbsent(((long) n << 1) | (tensorCores ? 1 : 0), key -> {
            int[] table = int4LaunchTable(tensorCores, n);
            return keep(ctx.alloc(4L * table.length)).upload(table);
        });
    }

    /** {@code y[n][rows] = x[n][cols] · W[row0 .. row0+rows)ᵀ} on the stream. */
    private void product(DeviceWeight w, int row0, int rows, DeviceTensor x, DeviceTensor y) {
        int cols = w.cols();
        int n = x.rows();
        if (options.poisonOutputs()) {
            fill(y, DeviceBuffer.POISON_F32);
        }
        boolean tc = options.tensorCores(n);
        switch (w) {
            case DeviceWeight.Bf16 b -> {
                if (tc && cols % Geometries.MMA_K_STEP == 0) {
                    ops.bf16Gemm(b.fromRow(row0), rows, cols, x.base(), x.stride(), n, y.base(), y.stride());
                } else {
                    ops.bf16Gemv(b.fromRow(row0), rows, cols, x.base(), x.stride(), n, y.base(), y.stride());
                }
            }
            case DeviceWeight.Int4 q -> {
                Int4ExpertStack band = new Int4ExpertStack(1, rows, cols);
                DeviceBuffer table = launchTable(tc, n);
                if (tc) {
                    int tiles = (n + Geometries.MMA_TILE - 1) / Geometries.MMA_TILE;
                    ops.int4GroupedGemm(band, q.wordsFromRow(row0), q.scalesFromRow(row0), tiles, table,
                            table.at(4L * tiles), table.at(8L * tiles), x.base(), x.stride(), KernelArgs.NULL, y.base(),
                            y.stride());
                } else {
                    ops.int4GroupedGemv(band, q.wordsFromRow(row0), q.scalesFromRow(row0), table, table.at(4),
                            table.at(8), x.base(), x.stride(), KernelArgs.NULL, y.base(), y.stride(), n, 1);
                }
            }
        }
    }

    @Override
    public void matmulHeads(LinearWeight w, int heads, int headRows, int row0, int rows, Activation xa, Activation ya) {
        DeviceWeight.Bf16 b = bf16(w, "per-head products");
        OperandChecks.heads(b, heads, headRows, row0, rows);
        DeviceTensor x = device(xa);
        DeviceTensor y = device(ya);
        OperandChecks.headRows(x, y, (long) heads * b.cols(), (long) heads * rows, w);
        if (x.rows() == 0 || rows == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.bf16GemvHeads(b.fromRow(row0), rows, b.cols(), (long) headRows * b.cols(), x.base(), x.stride(), b.cols(),
                    x.rows(), y.base(), y.stride(), rows, heads);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void matmulHeadsTransposed(LinearWeight w, int heads, int headRows, int row0, int rows, Activation xa,
                                      int xHeadStride, Activation ya) {
        DeviceWeight.Bf16 b = bf16(w, "transposed per-head products");
        OperandChecks.heads(b, heads, headRows, row0, rows);
        DeviceTensor x = device(xa);
        DeviceTensor y = device(ya);
        OperandChecks.headRows(x, y, (long) (heads - 1) * xHeadStride + rows, (long) heads * b.cols(), w);
        if (x.rows() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.bf16GemvTransposedHeads(b.fromRow(row0), rows, b.cols(), (long) headRows * b.cols(), x.base(),
                    xHeadStride, x.stride(), y.base(), b.cols(), y.stride(), heads, x.rows());
        } finally {
            lock.unlock();
        }
    }

    // ---- row-wise and element-wise -------------------------------------------------------------------------

    @Override
    public void rmsNorm(Activation xa, Activation weight, float eps, Activation outa) {
        DeviceTensor x = device(xa);
        DeviceTensor out = device(outa);
        DeviceTensor g = device(weight);
        TensorMemory.sameShape(x, out, "RMSNorm");
        if (g.rows() != 1 || g.cols() != x.cols()) {
            throw new IllegalArgumentException("RMSNorm weight [" + g.rows() + ", " + g.cols() + "] for dim " + x.cols());
        }
        if (x.rows() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.rmsNorm(x.base(), x.stride(), x.rows(), x.cols(), g.base(), eps, out.base(), out.stride());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void ropeInterleaved(Activation xa, int heads, int headStride, Indices positions, Activation invFreq,
                                float mscale) {
        DeviceTensor x = device(xa);
        DeviceIndices pos = indices(positions);
        DeviceTensor f = device(invFreq);
        int pairs = f.cols();
        if (pos.length() != x.rows() || (heads > 0 && (long) (heads - 1) * headStride + 2L * pairs > x.cols())) {
            throw new IllegalArgumentException("RoPE over [" + x.rows() + ", " + x.cols() + "]: " + pos.length()
                    + " positions, " + heads + " heads of stride " + headStride + ", " + pairs + " pairs");
        }
        if (x.rows() == 0 || heads == 0 || pairs == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.ropeInterleaved(x.base(), x.rows(), x.stride(), heads, headStride, 0, pos.base(), f.base(), pairs, mscale);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void siluMul(Activation gatea, Activation upa, Activation outa) {
        DeviceTensor g = device(gatea);
        DeviceTensor u = device(upa);
        DeviceTensor o = device(outa);
        TensorMemory.sameShape(g, u, "SiLU gate and up");
        TensorMemory.sameShape(g, o, "SiLU gate and out");
        if (g.size() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.siluMulRows(g.base(), g.stride(), u.base(), u.stride(), o.base(), o.stride(), g.rows(), g.cols());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void add(Activation xa, Activation ya) {
        DeviceTensor x = device(xa);
        DeviceTensor y = device(ya);
        TensorMemory.sameShape(x, y, "add");
        if (x.size() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            if (x.dense() && y.dense()) {
                ops.axpy(1f, x.base(), y.base(), Math.toIntExact(x.size()));
            } else {
                ops.addRows(x.base(), x.stride(), y.base(), y.stride(), x.rows(), x.cols());
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void embed(LinearWeight table, Indices ids, Activation outa) {
        DeviceWeight.Bf16 b = bf16(table, "an embedding table");
        DeviceIndices id = indices(ids);
        DeviceTensor out = device(outa);
        if (out.rows() != id.length() || out.cols() != b.cols() || !out.dense()) {
            throw new IllegalArgumentException(table.name() + ": " + id.length() + " ids into [" + out.rows() + ", "
                    + out.cols() + "] (dense rows of " + b.cols() + " needed)");
        }
        for (int t = 0; t < id.length(); t++) {
            if (id.get(t) < 0 || id.get(t) >= b.rows()) {
                throw new IllegalArgumentException("token id " + id.get(t) + " outside the vocabulary 0.." + (b.rows() - 1));
            }
        }
        if (id.length() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.embedding(id.base(), id.length(), b.data(), b.rows(), b.cols(), out.base());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void gatherRows(Activation srca, Indices rows, Activation dsta) {
        DeviceTensor src = device(srca);
        DeviceIndices r = indices(rows);
        DeviceTensor dst = device(dsta);
        checkRowMap(src, r, dst, dst.rows());
        if (r.length() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.gatherRows(src.base(), src.stride(), r.base(), r.length(), dst.base(), dst.stride(), src.cols());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void scatterRows(Activation srca, Indices rows, Activation dsta) {
        DeviceTensor src = device(srca);
        DeviceIndices r = indices(rows);
        DeviceTensor dst = device(dsta);
        checkRowMap(src, r, dst, src.rows());
        if (r.length() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.scatterRows(src.base(), src.stride(), r.base(), r.length(), dst.base(), dst.stride(), src.cols());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void scatterAddScaled(Activation srca, Indices rows, Activation scale, Activation dsta) {
        DeviceTensor src = device(srca);
        DeviceIndices r = indices(rows);
        DeviceTensor a = device(scale);
        DeviceTensor dst = device(dsta);
        checkRowMap(src, r, dst, src.rows());
        if (a.rows() != 1 || a.cols() != r.length()) {
            throw new IllegalArgumentException(r.length() + " rows but [" + a.rows() + ", " + a.cols() + "] scales");
        }
        if (r.length() == 0 || src.cols() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.scatterAddScaled(src.base(), src.stride(), r.base(), a.base(), r.length(), dst.base(), dst.stride(),
                    src.cols());
        } finally {
            lock.unlock();
        }
    }

    // ---- mixture of experts ---------------------------------------------------------------------------------

    /**
     * The experts' address table, written on the device by one {@code pg_expert_table_set} launch per expert (the
     * addresses are the driver's, which only the device side reads); no weight is copied.
     */
    @Override
    public ExpertStack stackExperts(int firstExpert, List<LinearWeight> gate, List<LinearWeight> up,
                                    List<LinearWeight> down) {
        int held = gate.size();
        if (up.size() != held || down.size() != held || firstExpert < 0) {
            throw new IllegalArgumentException("expert stack from " + firstExpert + ": " + gate.size() + " gate, "
                    + up.size() + " up, " + down.size() + " down weights");
        }
        if (held == 0) {
            return new DeviceExperts(firstExpert, 0, 0, 0, true, null);
        }
        int hidden = gate.getFirst().cols();
        int inter = gate.getFirst().rows();
        boolean int4 = cuda(gate.getFirst()) instanceof DeviceWeight.Int4;
        for (int e = 0; e < held; e++) {
            for (LinearWeight w : List.of(gate.get(e), up.get(e), down.get(e))) {
                boolean isInt4 = cuda(w) instanceof DeviceWeight.Int4;
                boolean isDown = w == down.get(e);
                if (isInt4 != int4 || w.rows() != (isDown ? hidden : inter) || w.cols() != (isDown ? inter : hidden)) {
                    throw new IllegalArgumentException("expert " + (firstExpert + e) + ": " + w.name() + " ["
                            + w.rows() + ", " + w.cols() + "] does not fit a stack of " + (int4 ? "INT4" : "BF16")
                            + " experts [" + inter + ", " + hidden + "]");
                }
            }
        }
        if (hidden % 4 != 0 || inter % 2 != 0 || (!int4 && (hidden % 8 != 0 || inter % 8 != 0))) {
            throw new IllegalArgumentException("expert stack [" + inter + ", " + hidden + "]: the grouped GEMVs need "
                    + "hidden % 4 (INT4) or % 8 (BF16) and an even intermediate size");
        }
        lock.lock();
        try {
            enter();
            DeviceBuffer table = keep(ctx.alloc(8L * held * (int4 ? 6 : 3)));
            for (int e = 0; e < held; e++) {
                if (int4) {
                    DeviceWeight.Int4 g = (DeviceWeight.Int4) cuda(gate.get(e));
                    DeviceWeight.Int4 u = (DeviceWeight.Int4) cuda(up.get(e));
                    DeviceWeight.Int4 d = (DeviceWeight.Int4) cuda(down.get(e));
                    ops.expertTableSet(table, e, held, g.words(), g.scales(), u.words(), u.scales(), d.words(),
                            d.scales());
                } else {
                    ops.expertTableSet(table, e, held, bf16(gate.get(e), "experts").data(),
                            bf16(up.get(e), "experts").data(), bf16(down.get(e), "experts").data());
                }
            }
            return new DeviceExperts(firstExpert, held, hidden, inter, int4, table);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public MoeScratch moeScratch(MoeBlock block, int tokens) {
        DeviceOps.checkRouter(block.router());
        Geometries.router(tokens, block.router().experts());
        DeviceExperts ex = experts(block);
        int k = block.router().topK();
        int experts = block.router().experts();
        int assignments = Math.max(1, tokens * k);
        int hidden = Math.max(1, block.hidden());
        DeviceIndices topIdx = allocateIndices(assignments);
        lock.lock();
        try {
            enter();
            return new DeviceMoe(tokens, k, allocate(Math.max(1, tokens), experts), topIdx, allocate(1, assignments), keep(ctx.alloc(4L * (experts + 1))),
                    keep(ctx.alloc(4L * assignments)), keep(ctx.alloc(4L * assignments)),
                    keep(ctx.alloc(4L * experts)), keep(ctx.alloc(4)),
                    allocate(assignments, 2 * Math.max(1, ex.inter())), allocate(assignments, hidden),
                    allocate(Math.max(1, tokens), block.sharedInter()), allocate(Math.max(1, tokens), block.sharedInter()),
                    allocate(Math.max(1, tokens), hidden));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Router → permutation → grouped gate‖up → SiLU·up → grouped down → combine, with the shared expert's products in
     * between, all on the stream: {@code 3 + (held experts ? 3 : 0) + (shared expert ? 4 : 0)} launches whatever the
     * routing. The combine adds each token's held experts in ascending expert order onto the shared expert's output
     * (one fixed order; the CPU's order too, so the two differ only by the products' own fp32 rounding).
     */
    @Override
    public void moe(MoeBlock block, Activation xa, Activation routerLogits, MoeScratch scratch, Activation outa) {
        DeviceExperts ex = experts(block);
        DeviceTensor x = device(xa);
        DeviceTensor logits = device(routerLogits);
        DeviceTensor out = device(outa);
        DeviceTensor bias = device(block.bias());
        int n = x.rows();
        int experts = block.router().experts();
        int k = block.router().topK();
        int hidden = out.cols();
        if (!(scratch instanceof DeviceMoe m) || n > m.capacity()) {
            throw new IllegalArgumentException(n + " tokens in MoE scratch " + scratch);
        }
        OperandChecks.moe(block, x, logits, out);
        if (n == 0) {
            return;
        }
        DeviceOps.checkRouter(block.router());
        int assignments = n * k;
        int inter = ex.inter();
        lock.lock();
        try {
            enter();
            DeviceTensor dense = logits;
            if (!logits.dense()) {
                dense = m.logits().rows(0, n);
                deviceCopy(logits, dense);
            }
            ops.router(dense.base(), n, block.router(), bias.base(), m.topIdx().base(), m.topW().base());
            ops.permute(m.topIdx().base(), assignments, k, experts, m.offsets(), m.permToken(), m.srcPos(), m.active(),
                    m.nActive());
            DeviceTensor sg = m.sharedGate().rows(0, n);
            DeviceTensor su = m.sharedUp().rows(0, n);
            DeviceTensor so = m.sharedOut().rows(0, n);
            if (block.hasShared()) {
                product(cuda(block.sharedGate()), 0, sg.cols(), x, sg);
                product(cuda(block.sharedUp()), 0, su.cols(), x, su);
            }
            if (ex.experts() > 0) {
                DeviceTensor gateUp = m.gateUp().rows(0, assignments);
                ops.moeExpertGemv(ex.int4(), ex.table(), ex.experts(), ex.firstExpert(), 0, 2, inter, hidden,
                        m.active(), m.nActive(), m.offsets(), x.base(), x.stride(), m.permToken(), gateUp.base(),
                        gateUp.stride(), inter, n, k, experts);
                DeviceTensor g = gateUp.cols(0, inter);
                ops.siluMulRows(g.base(), g.stride(), gateUp.cols(inter, inter).base(), gateUp.stride(), g.base(),
                        g.stride(), assignments, inter);
                ops.moeExpertGemv(ex.int4(), ex.table(), ex.experts(), ex.firstExpert(), 2, 1, hidden, inter,
                        m.active(), m.nActive(), m.offsets(), g.base(), g.stride(), KernelArgs.NULL, m.out().base(),
                        m.out().stride(), 0, n, k, experts);
            }
            if (block.hasShared()) {
                ops.siluMulRows(sg.base(), sg.stride(), su.base(), su.stride(), sg.base(), sg.stride(), n, sg.cols());
                product(cuda(block.sharedDown()), 0, hidden, sg, so);
            }
            ops.combineHeld(m.out().base(), m.out().stride(), m.srcPos(), m.topIdx().base(), m.topW().base(), k,
                    ex.firstExpert(), ex.experts(), block.hasShared() ? so.base() : KernelArgs.NULL, so.stride(),
                    out.base(), out.stride(), n, hidden);
        } finally {
            lock.unlock();
        }
    }

    private static DeviceExperts experts(MoeBlock block) {
        if (block.experts() instanceof DeviceExperts e) {
            return e;
        }
        throw new IllegalArgumentException("not a CUDA expert stack: " + block.experts().getClass().getName());
    }

    // ---- attention -----------------------------------------------------------------------------------------

    @Override
    public void attentionNaive(Activation qa, int startPos, Activation kva, Activation kPea, int heads, int nope,
                               int rope, int vDim, float scale, Activation outa) {
        DeviceTensor q = device(qa);
        DeviceTensor kv = device(kva);
        DeviceTensor kPe = device(kPea);
        DeviceTensor out = device(outa);
        int tokens = q.rows();
        int positions = startPos + tokens;
        if (!q.dense() || q.cols() != heads * (nope + rope) || !kv.dense() || kv.rows() < positions
                || kv.cols() != heads * (nope + vDim) || kPe.rows() < positions || kPe.cols() != rope
                || !out.dense() || out.rows() != tokens || out.cols() != heads * vDim) {
            throw new IllegalArgumentException("naive attention: q [" + q.rows() + ", " + q.cols() + "], kv ["
                    + kv.rows() + ", " + kv.cols() + "], kPe [" + kPe.rows() + ", " + kPe.cols() + "], out ["
                    + out.rows() + ", " + out.cols() + "] for " + heads + " heads from position " + startPos);
        }
        if (tokens == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            // the kernel reads the rope keys densely
            DeviceTensor pe = scratch(positions * rope).rows(0, 1).cols(0, positions * rope);
            DeviceTensor dense = new DeviceTensor(pe.base(), positions, rope, rope);
            deviceCopy(kPe.rows(0, positions), dense);
            ops.mlaPrefill(q.base(), tokens, kv.base(), dense.base(), heads, nope, rope, vDim, startPos, scale, out.base());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void attentionAbsorbed(Activation qLata, Activation qPea, int qPeHeadStride, int heads, Activation slaba,
                                  Indices slotsi, Indices startsi, float scale, Activation outLata) {
        DeviceTensor qLat = device(qLata);
        DeviceTensor qPe = device(qPea);
        DeviceTensor slab = device(slaba);
        DeviceIndices slots = indices(slotsi);
        DeviceIndices starts = indices(startsi);
        DeviceTensor outLat = device(outLata);
        int n = qLat.rows();
        int kvRank = qLat.cols() / Math.max(1, heads);
        int rope = slab.cols() - kvRank;
        if (qLat.cols() != heads * kvRank || rope < 0 || qPe.rows() != n || starts.length() != n + 1
                || outLat.rows() != n || outLat.cols() != qLat.cols() || !slab.dense()) {
            throw new IllegalArgumentException("absorbed attention: qLat [" + n + ", " + qLat.cols() + "], qPe ["
                    + qPe.rows() + ", " + qPe.cols() + "], slab width " + slab.cols() + ", " + starts.length()
                    + " starts, out [" + outLat.rows() + ", " + outLat.cols() + "] for " + heads + " heads");
        }
        lock.lock();
        try {
            enter();
            for (int t = 0; t < n; t++) {
                int from = starts.get(t);
                Objects.checkFromIndexSize(from, starts.get(t + 1) - from, slots.length());
            }
            if (n > 0) {
                // one launch for every row: the kernel reads the starts and slots on the device
                ops.mlaAbsorbedF32(qLat.base(), qLat.stride(), qPe.base(), qPe.stride(), qPeHeadStride, heads, kvRank,
                        rope, slab.base(), slab.stride(), slots.base(), starts.base(), n, scale, outLat.base(),
                        outLat.stride());
            }
        } finally {
            lock.unlock();
        }
    }

    // ---- the vision tower (MoonViT-3D, issue 24) ---------------------------------------------------------------

    @Override
    public void layerNorm(Activation xa, Activation weight, Activation bias, float eps, Activation outa) {
        DeviceTensor x = device(xa);
        DeviceTensor out = device(outa);
        TensorMemory.sameShape(x, out, "LayerNorm");
        OperandChecks.rowVector(weight, x.cols(), "LayerNorm weight");
        OperandChecks.rowVector(bias, x.cols(), "LayerNorm bias");
        if (x.rows() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.layerNorm(x.base(), x.stride(), x.rows(), x.cols(), device(weight).base(), device(bias).base(), eps,
                    out.base(), out.stride());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void addBias(Activation bias, Activation ya) {
        DeviceTensor y = device(ya);
        OperandChecks.rowVector(bias, y.cols(), "bias");
        if (y.size() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.addBiasRows(device(bias).base(), y.base(), y.stride(), y.rows(), y.cols());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void gelu(Activation xa, Gelu form, Activation outa) {
        DeviceTensor x = device(xa);
        DeviceTensor out = device(outa);
        TensorMemory.sameShape(x, out, "GELU");
        if (x.size() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.geluRows(x.base(), x.stride(), out.base(), out.stride(), x.rows(), x.cols(),
                    form == Gelu.TANH ? 0 : 1);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void rotatePairs(Activation xa, int heads, int headStride, Activation cosa, Activation sina) {
        DeviceTensor x = device(xa);
        DeviceTensor cos = device(cosa);
        DeviceTensor sin = device(sina);
        OperandChecks.rotatePairs(x, heads, headStride, cos, sin);
        if (x.rows() == 0 || heads == 0 || cos.cols() == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.rotatePairs(x.base(), x.stride(), x.rows(), heads, headStride, cos.base(), cos.stride(), sin.base(),
                    sin.stride(), cos.cols());
        } finally {
            lock.unlock();
        }
    }

    /** One launch over every segment; the bounds are read on the device, their host copy sizes the grid. */
    @Override
    public void attentionSegments(Activation qa, Activation ka, Activation va, int heads, Indices segmentsi,
                                  float scale, Activation outa) {
        DeviceTensor q = device(qa);
        DeviceTensor k = device(ka);
        DeviceTensor v = device(va);
        DeviceTensor out = device(outa);
        DeviceIndices seg = indices(segmentsi);
        OperandChecks.segments(q, k, v, heads, seg.length(), seg::get, out);
        int segments = seg.length() - 1;
        int longest = 0;
        for (int s = 0; s < segments; s++) {
            longest = Math.max(longest, seg.get(s + 1) - seg.get(s));
        }
        if (q.rows() == 0 || segments == 0) {
            return;
        }
        lock.lock();
        try {
            enter();
            ops.attentionSegments(q.base(), q.stride(), k.base(), k.stride(), v.base(), v.stride(), heads,
                    q.cols() / heads, seg.base(), segments, longest, scale, out.base(), out.stride());
        } finally {
            lock.unlock();
        }
    }

    // ---- sampling -------------------------------------------------------------------------------------------

    /** Counts kept on the device, in the sampler's pool (placed at the sequence's first sample). */
    @Override
    public TokenCounts tokenCounts(int[] prompt, int promptLength) {
        return sampler.counts(prompt, promptLength);
    }

    /**
     * On the device ({@link DeviceSampler}): one upload of the sampling rows (+ constrained rows' bitmasks), one
     * {@code pg_sample_rows} launch, one download of the ids and requested logprobs. The logits never leave.
     */
    @Override
    public void sample(Activation logits, SamplingBatch batch) {
        DeviceTensor l = device(logits);
        lock.lock();
        try {
            enter();
            sampler.sample(l.base(), l.rows(), l.stride(), l.cols(), batch);
        } finally {
            lock.unlock();
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    /** Under the lock, at every entry point: refuses a closed backend and binds the context to this thread. */
    private void enter() {
        if (closed) {
            throw new IllegalStateException(name + " is closed");
        }
        ctx.makeCurrent();
    }

    private DeviceBuffer keep(DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    /** A device scratch of at least {@code floats}, grown and kept; its users run in stream order. */
    private DeviceTensor scratch(long floats) {
        if (scratch == null || scratch.size() < floats) {
            int n = Math.toIntExact(Math.max(floats, scratch == null ? 1 << 16 : 2 * scratch.size()));
            scratch = new DeviceTensor(keep(ctx.alloc(4L * n)), 1, n, n);
        }
        return scratch;
    }

    private void fill(DeviceTensor t, int pattern) {
        if (t.size() > 0) {
            ctx.fill2D32(t.base().ptr(), 4L * t.stride(), pattern, t.cols(), t.rows());
        }
    }

    private void deviceCopy(DeviceTensor s, DeviceTensor d) {
        CUDA_MEMCPY2D m = new CUDA_MEMCPY2D();
        m.srcMemoryType = CUmemorytype.CU_MEMORYTYPE_DEVICE;
        m.srcDevice = s.base().ptr();
        m.srcPitch = 4L * s.stride();
        m.dstMemoryType = CUmemorytype.CU_MEMORYTYPE_DEVICE;
        m.dstDevice = d.base().ptr();
        m.dstPitch = 4L * d.stride();
        m.WidthInBytes = 4L * s.cols();
        m.Height = s.rows();
        ctx.copy2D(m);
    }

    static DeviceTensor device(Activation a) {
        if (a instanceof DeviceTensor t) {
            return t;
        }
        throw new IllegalArgumentException("not a CUDA tensor: " + a.getClass().getName());
    }

    static DeviceIndices indices(Indices i) {
        if (i instanceof DeviceIndices d) {
            return d;
        }
        throw new IllegalArgumentException("not CUDA indices: " + i.getClass().getName());
    }

    static DeviceWeight cuda(LinearWeight w) {
        if (w instanceof DeviceWeight d) {
            return d;
        }
        throw new IllegalArgumentException("not a CUDA weight: " + w.name() + " (" + w.getClass().getName() + ")");
    }

    static DeviceWeight.Bf16 bf16(LinearWeight w, String op) {
        if (cuda(w) instanceof DeviceWeight.Bf16 b) {
            return b;
        }
        throw new IllegalArgumentException(op + " need a BF16 weight, got " + w.name());
    }

    /** The contract's check, and each index inside the side it addresses (read from the host copy). */
    private static void checkRowMap(DeviceTensor src, DeviceIndices rows, DeviceTensor dst, int mapped) {
        OperandChecks.rowMap(src, rows, dst, mapped);
        int bound = src.rows() == mapped ? dst.rows() : src.rows();
        for (int i = 0; i < rows.length(); i++) {
            Objects.checkIndex(rows.get(i), bound);
        }
    }

    /** For NCCL: the activation's device memory by address; its rows must be back to back. */
    @Override
    public MemorySegment segment(Activation a) {
        DeviceTensor t = device(a);
        if (!t.dense()) {
            throw new IllegalArgumentException("a column view [" + t.rows() + ", " + t.cols() + "] of stride "
                    + t.stride() + " is not one contiguous buffer, which a collective needs");
        }
        return MemorySegment.ofAddress(JCudaAddresses.of(t.base().ptr())).reinterpret(4L * t.size());
    }
}
