package io.peregrine.engine.backend.cpu;

import static io.peregrine.engine.backend.HostMemory.host;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.Gelu;
import io.peregrine.engine.backend.HostIndices;
import io.peregrine.engine.backend.HostMemory;
import io.peregrine.engine.backend.HostTensor;
import io.peregrine.engine.backend.Indices;
import io.peregrine.engine.backend.ExpertStack;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.MoeBlock;
import io.peregrine.engine.backend.MoeScratch;
import io.peregrine.engine.backend.OperandChecks;
import io.peregrine.engine.backend.Product;
import io.peregrine.engine.backend.TensorMemory;
import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.sample.BatchSampler;
import io.peregrine.engine.sample.PenaltyState;
import io.peregrine.engine.sample.SamplingBatch;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.Objects;

/**
 * The reference backend: plain Java and the Vector API on the CPU, over tensors on the Java heap
 * ({@link HostTensor}). BF16 weights are read in place from the mapped checkpoint; INT4 weights are repacked once
 * ({@link Int4Weight}) into off-heap memory the backend owns. Its compute pool is its own, sized at construction;
 * {@link #close()} stops it and frees the repacked weights.
 *
 * <p>A batch of tokens normally goes through tiled kernels ({@link TileKernels}: weights dequantised once per band
 * into a cached fp32 tile, four rows × four tokens per register tile); their sums run in another order than the
 * one-token kernel's, so a token's product differs in its last bits between a batch and a step of its own.
 * Batch-invariant mode runs every token through the one-token kernel instead (slower prefill, the same decode), so
 * a token's bits do not depend on its neighbours.
 *
 * <p>Scratch (INT4 prepared activations, attention scores) is kept per thread and grown, never allocated per call.
 */
public final class CpuBackend extends HostMemory implements Backend {
    /** Multiply-adds below which a parallel split costs more than it saves. */
    private static final int MIN_WORK_PER_CHUNK = 1 << 16;

    private final ComputePool pool;
    private final boolean batchInvariant;
    /** Repacked weights live here until {@link #close()}. */
    private final Arena weights = Arena.ofShared();
    /** Weights of {@link #uploadTransient}, each in its own arena (products are synchronous: free at once). */
    private final java.util.IdentityHashMap<LinearWeight, Arena> transientWeights = new java.util.IdentityHashMap<>();
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);
    private final BatchSampler sampler = new BatchSampler();

    public CpuBackend(int threads) {
        this(threads, false);
    }

    public CpuBackend(int threads, boolean batchInvariant) {
        this.pool = new ComputePool(threads);
        this.batchInvariant = batchInvariant;
    }

    @Override
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

    /** Repacked into an arena of its own, closed by {@link #release}. */
    @Override
    public LinearWeight uploadTransient(Int4Group32 weight) {
        Arena own = Arena.ofShared();
        Int4Weight w = Int4Weight.repack(weight, VectorMath.L, own);
        synchronized (transientWeights) {
            transientWeights.put(w, own);
        }
        return w;
    }

    @Override
    public void release(LinearWeight weight) {
        Arena own;
        synchronized (transientWeights) {
            own = transientWeights.remove(weight);
        }
        if (own == null) {
            throw new IllegalArgumentException(weight.name() + " was not uploaded by uploadTransient");
        }
        own.close();
    }

    // ---- products -------------------------------------------------------------------------------------------

    @Override
    public void matmul(LinearWeight w, int row0, Activation xa, Activation ya) {
        HostTensor x = host(xa);
        HostTensor y = host(ya);
        int rows = y.cols();
        int n = x.rows();
        Objects.checkFromIndexSize(row0, rows, w.rows());
        OperandChecks.product(w, x, y);
        if (n == 0 || rows == 0) {
            return;
        }
        if (batchInvariant && n > 1) {
            for (int t = 0; t < n; t++) {
                matmul(w, row0, x.rows(t, 1), y.rows(t, 1));
            }
            return;
        }
        int minRows = Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, w.cols() * Math.min(n, 4)));
        switch (w) {
            case Bf16Weight b -> pool.parallelFor(rows, minRows, (lo, hi) -> Bf16Kernels.matmul(b.data(), b.cols(), row0,
                    lo, hi, x.data(), x.offset(), x.stride(), n, y.data(), y.offset(), y.stride()));
            case Int4Weight q -> {
                if (row0 != 0 || rows != q.rows()) {
                    throw new IllegalArgumentException(q.name() + ": INT4 products cover whole weights, not rows "
                            + row0 + ".." + (row0 + rows - 1));
                }
                float[] xr = scratch.get().prepared(0, n * Int4Kernels.preparedLength(q));
                Int4Kernels.prepare(q, x.data(), x.offset(), x.stride(), n, xr);
                pool.parallelFor(rows, minRows, (lo, hi) -> Int4Kernels.matmul(q, lo, hi, xr, n, y.data(), y.offset(),
                        y.stride()));
            }
            default -> throw new IllegalArgumentException("not a CPU weight: " + w.getClass().getName());
        }
    }

    @Override
    public void matmulAll(List<Product> products) {
        if (batchInvariant) {
            // one weight at a time through matmul, whose row chunks are those of every other call of that weight
            Backend.super.matmulAll(products);
            return;
        }
        int k = products.size();
        Scratch s = scratch.get();
        int[] chunkRows = s.ints(0, k);
        int[] firstChunk = s.ints(1, k + 1);
        float[][] prepared = s.preparedSlots(k);
        for (int i = 0; i < k; i++) {
            Product p = products.get(i);
            LinearWeight w = p.w();
            HostTensor x = host(p.x());
            HostTensor y = host(p.y());
            int n = x.rows();
            if (w instanceof Int4Weight q) {
                prepared[i] = s.prepared(i, n * Int4Kernels.preparedLength(q));
                Int4Kernels.prepare(q, x.data(), x.offset(), x.stride(), n, prepared[i]);
            } else if (!(w instanceof Bf16Weight)) {
                throw new IllegalArgumentException("not a CPU weight: " + w.getClass().getName());
            }
            int minRows = Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, w.cols() * Math.min(Math.max(n, 1), 4)));
            chunkRows[i] = Math.max(minRows, (w.rows() + 2 * threads() - 1) / (2 * threads()));
            firstChunk[i + 1] = firstChunk[i] + (n == 0 ? 0 : (w.rows() + chunkRows[i] - 1) / chunkRows[i]);
        }
        pool.parallelFor(firstChunk[k], 1, (lo, hi) -> {
            for (int c = lo; c < hi; c++) {
                int i = 0;
                while (firstChunk[i + 1] <= c) {
                    i++;
                }
                Product p = products.get(i);
                HostTensor x = (HostTensor) p.x();
                HostTensor y = (HostTensor) p.y();
                int r0 = (c - firstChunk[i]) * chunkRows[i];
                int r1 = Math.min(p.w().rows(), r0 + chunkRows[i]);
                switch (p.w()) {
                    case Bf16Weight b -> Bf16Kernels.matmul(b.data(), b.cols(), 0, r0, r1, x.data(), x.offset(),
                            x.stride(), x.rows(), y.data(), y.offset(), y.stride());
                    case Int4Weight q -> Int4Kernels.matmul(q, r0, r1, prepared[i], x.rows(), y.data(), y.offset(),
                            y.stride());
                    default -> throw new IllegalStateException();
                }
            }
        });
    }

    @Override
    public void matmulHeads(LinearWeight w, int heads, int headRows, int row0, int rows, Activation xa, Activation ya) {
        Bf16Weight b = bf16(w, "per-head products");
        OperandChecks.heads(b, heads, headRows, row0, rows);
        HostTensor x = host(xa);
        HostTensor y = host(ya);
        OperandChecks.headRows(x, y, (long) heads * b.cols(), (long) heads * rows, w);
        int n = x.rows();
        pool.parallelFor(n * heads, Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, rows * b.cols())), (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                int t = p / heads;
                int h = p % heads;
                Bf16Kernels.matmul(b.data(), b.cols(), h * headRows + row0, 0, rows, x.data(), x.at(t, h * b.cols()),
                        b.cols(), 1, y.data(), y.at(t, h * rows), rows);
            }
        });
    }

    @Override
    public void matmulHeadsTransposed(LinearWeight w, int heads, int headRows, int row0, int rows, Activation xa,
                                      int xHeadStride, Activation ya) {
        Bf16Weight b = bf16(w, "transposed per-head products");
        OperandChecks.heads(b, heads, headRows, row0, rows);
        HostTensor x = host(xa);
        HostTensor y = host(ya);
        if (xHeadStride < rows) {
            throw new IllegalArgumentException("head stride " + xHeadStride + " < " + rows + " rows");
        }
        OperandChecks.headRows(x, y, (long) (heads - 1) * xHeadStride + rows, (long) heads * b.cols(), w);
        int n = x.rows();
        pool.parallelFor(n * heads, Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, rows * b.cols())), (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                int t = p / heads;
                int h = p % heads;
                Bf16Kernels.matmulTransposed(b.data(), b.cols(), h * headRows + row0, rows, x.data(),
                        x.at(t, h * xHeadStride), y.data(), y.at(t, h * b.cols()), 0, b.cols());
            }
        });
    }

    // ---- row-wise and element-wise --------------------------------------------------------------------------

    @Override
    public void rmsNorm(Activation xa, Activation weight, float eps, Activation outa) {
        HostTensor x = host(xa);
        HostTensor out = host(outa);
        TensorMemory.sameShape(x, out, "RMSNorm");
        float[] w = whole(weight, x.cols(), "RMSNorm weight");
        for (int t = 0; t < x.rows(); t++) {
            VectorMath.rmsNorm(x.data(), x.at(t, 0), x.cols(), w, eps, out.data(), out.at(t, 0));
        }
    }

    @Override
    public void ropeInterleaved(Activation xa, int heads, int headStride, Indices positions, Activation invFreq,
                                float mscale) {
        HostTensor x = host(xa);
        HostIndices pos = host(positions);
        int pairs = invFreq.cols();
        float[] f = whole(invFreq, pairs, "RoPE frequencies");
        if (pos.length() != x.rows() || (heads > 0 && (long) (heads - 1) * headStride + 2L * pairs > x.cols())) {
            throw new IllegalArgumentException("RoPE over [" + x.rows() + ", " + x.cols() + "]: " + pos.length()
                    + " positions, " + heads + " heads of stride " + headStride + ", " + pairs + " pairs");
        }
        for (int t = 0; t < x.rows(); t++) {
            int p = pos.get(t);
            for (int h = 0; h < heads; h++) {
                VectorMath.ropeInterleaved(x.data(), x.at(t, h * headStride), p, f, pairs, mscale);
            }
        }
    }

    @Override
    public void siluMul(Activation gatea, Activation upa, Activation outa) {
        HostTensor g = host(gatea);
        HostTensor u = host(upa);
        HostTensor o = host(outa);
        TensorMemory.sameShape(g, u, "SiLU gate and up");
        TensorMemory.sameShape(g, o, "SiLU gate and out");
        if (g.dense() && u.dense() && o.dense()) {
            VectorMath.siluMul(g.data(), g.offset(), u.data(), u.offset(), o.data(), o.offset(), g.rows() * g.cols());
            return;
        }
        for (int t = 0; t < g.rows(); t++) {
            VectorMath.siluMul(g.data(), g.at(t, 0), u.data(), u.at(t, 0), o.data(), o.at(t, 0), g.cols());
        }
    }

    @Override
    public void add(Activation xa, Activation ya) {
        HostTensor x = host(xa);
        HostTensor y = host(ya);
        TensorMemory.sameShape(x, y, "add");
        if (x.dense() && y.dense()) {
            VectorMath.axpy(1f, x.data(), x.offset(), y.data(), y.offset(), x.rows() * x.cols());
            return;
        }
        for (int t = 0; t < x.rows(); t++) {
            VectorMath.axpy(1f, x.data(), x.at(t, 0), y.data(), y.at(t, 0), x.cols());
        }
    }

    @Override
    public void embed(LinearWeight table, Indices ids, Activation outa) {
        Bf16Weight b = bf16(table, "an embedding table");
        HostIndices id = host(ids);
        HostTensor out = host(outa);
        if (out.rows() != id.length() || out.cols() != b.cols()) {
            throw new IllegalArgumentException(table.name() + ": " + id.length() + " ids into [" + out.rows() + ", "
                    + out.cols() + "]");
        }
        for (int t = 0; t < id.length(); t++) {
            int token = id.get(t);
            if (token < 0 || token >= b.rows()) {
                throw new IllegalArgumentException("token id " + token + " outside the vocabulary 0.." + (b.rows() - 1));
            }
            long base = (long) token * b.cols() * 2;
            int o = out.at(t, 0);
            for (int c = 0; c < b.cols(); c++) {
                out.data()[o + c] = Bf16Kernels.bf16(b.data(), base, c);
            }
        }
    }

    @Override
    public void gatherRows(Activation srca, Indices rows, Activation dsta) {
        HostTensor src = host(srca);
        HostIndices r = host(rows);
        HostTensor dst = host(dsta);
        OperandChecks.rowMap(src, r, dst, dst.rows());
        for (int i = 0; i < r.length(); i++) {
            System.arraycopy(src.data(), src.at(row(r, i, src.rows()), 0), dst.data(), dst.at(i, 0), src.cols());
        }
    }

    @Override
    public void scatterRows(Activation srca, Indices rows, Activation dsta) {
        HostTensor src = host(srca);
        HostIndices r = host(rows);
        HostTensor dst = host(dsta);
        OperandChecks.rowMap(src, r, dst, src.rows());
        for (int i = 0; i < r.length(); i++) {
            System.arraycopy(src.data(), src.at(i, 0), dst.data(), dst.at(row(r, i, dst.rows()), 0), src.cols());
        }
    }

    @Override
    public void scatterAddScaled(Activation srca, Indices rows, Activation scale, Activation dsta) {
        HostTensor src = host(srca);
        HostIndices r = host(rows);
        HostTensor a = host(scale);
        HostTensor dst = host(dsta);
        OperandChecks.rowMap(src, r, dst, src.rows());
        if (a.rows() != 1 || a.cols() != r.length()) {
            throw new IllegalArgumentException(r.length() + " rows but [" + a.rows() + ", " + a.cols() + "] scales");
        }
        for (int i = 0; i < r.length(); i++) {
            VectorMath.axpy(a.data()[a.at(0, i)], src.data(), src.at(i, 0), dst.data(), dst.at(row(r, i, dst.rows()), 0),
                    src.cols());
        }
    }

    // ---- mixture of experts ---------------------------------------------------------------------------------

    @Override
    public ExpertStack stackExperts(int firstExpert, List<LinearWeight> gate, List<LinearWeight> up,
                                    List<LinearWeight> down) {
        return CpuExperts.of(firstExpert, gate, up, down);
    }

    @Override
    public MoeScratch moeScratch(MoeBlock block, int tokens) {
        cpuExperts(block);
        return new CpuMoe(block, tokens);
    }

    /** On the heap the routing is visible at once: routed here, then only the experts with rows run ({@link CpuMoe}). */
    @Override
    public void moe(MoeBlock block, Activation xa, Activation routerLogits, MoeScratch scratch, Activation outa) {
        CpuExperts experts = cpuExperts(block);
        HostTensor x = host(xa);
        HostTensor logits = host(routerLogits);
        HostTensor out = host(outa);
        int n = x.rows();
        if (!(scratch instanceof CpuMoe m) || n > m.capacity()) {
            throw new IllegalArgumentException(n + " tokens in MoE scratch " + scratch);
        }
        OperandChecks.moe(block, x, logits, out);
        if (n == 0) {
            return;
        }
        m.run(this, block, x, logits, whole(block.bias(), block.router().experts(), "router bias"), out);
    }

    private static CpuExperts cpuExperts(MoeBlock block) {
        if (block.experts() instanceof CpuExperts e) {
            return e;
        }
        throw new IllegalArgumentException("not a CPU expert stack: " + block.experts().getClass().getName());
    }

    // ---- attention ------------------------------------------------------------------------------------------

    @Override
    public void attentionNaive(Activation qa, int startPos, Activation kva, Activation kPea, int heads, int nope,
                               int rope, int vDim, float scale, Activation outa) {
        HostTensor q = host(qa);
        HostTensor kv = host(kva);
        HostTensor kPe = host(kPea);
        HostTensor out = host(outa);
        int tokens = q.rows();
        int positions = startPos + tokens;
        if (!q.dense() || q.cols() != heads * (nope + rope) || !kv.dense() || kv.rows() < positions
                || kv.cols() != heads * (nope + vDim) || kPe.rows() < positions || kPe.cols() != rope
                || !out.dense() || out.rows() != tokens || out.cols() != heads * vDim) {
            throw new IllegalArgumentException("naive attention: q [" + q.rows() + ", " + q.cols() + "], kv ["
                    + kv.rows() + ", " + kv.cols() + "], kPe [" + kPe.rows() + ", " + kPe.cols() + "], out ["
                    + out.rows() + ", " + out.cols() + "] for " + heads + " heads of " + nope + "+" + rope + "/" + vDim
                    + " from position " + startPos);
        }
        int minPairs = Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, positions * (nope + rope + vDim)));
        pool.parallelFor(tokens * heads, minPairs, (lo, hi) -> {
            float[] scores = scratch.get().scores(positions);
            for (int p = lo; p < hi; p++) {
                AttentionKernels.naive(q.data(), q.offset(), p / heads, p % heads, startPos, kv.data(), kv.offset(),
                        kPe.data(), kPe.offset(), kPe.stride(), heads, nope, rope, vDim, scale, out.data(),
                        out.offset(), scores, true);
            }
        });
    }

    @Override
    public void attentionAbsorbed(Activation qLata, Activation qPea, int qPeHeadStride, int heads, Activation slaba,
                                  Indices slotsi, Indices startsi, float scale, Activation outLata) {
        HostTensor qLat = host(qLata);
        HostTensor qPe = host(qPea);
        HostTensor slab = host(slaba);
        HostIndices slots = host(slotsi);
        HostIndices starts = host(startsi);
        HostTensor outLat = host(outLata);
        int n = qLat.rows();
        int kvRank = qLat.cols() / Math.max(1, heads);
        int rope = slab.cols() - kvRank;
        if (qLat.cols() != heads * kvRank || rope < 0 || qPe.rows() != n
                || (heads > 0 && (long) (heads - 1) * qPeHeadStride + rope > qPe.cols())
                || starts.length() != n + 1 || outLat.rows() != n || outLat.cols() != qLat.cols()) {
            throw new IllegalArgumentException("absorbed attention: qLat [" + n + ", " + qLat.cols() + "], qPe ["
                    + qPe.rows() + ", " + qPe.cols() + "], slab width " + slab.cols() + ", " + starts.length()
                    + " starts, out [" + outLat.rows() + ", " + outLat.cols() + "] for " + heads + " heads");
        }
        int longest = 0;
        for (int t = 0; t < n; t++) {
            int from = starts.get(t);
            int count = starts.get(t + 1) - from;
            Objects.checkFromIndexSize(from, count, slots.length());
            for (int s = from; s < from + count; s++) {
                Objects.checkIndex(slots.get(s), slab.rows());
            }
            longest = Math.max(longest, count);
        }
        int maxCount = longest;
        int minPairs = Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, maxCount * (2 * kvRank + rope)));
        pool.parallelFor(n * heads, minPairs, (lo, hi) -> {
            float[] scores = scratch.get().scores(maxCount);
            for (int p = lo; p < hi; p++) {
                int t = p / heads;
                int from = starts.get(t);
                AttentionKernels.absorbed(qLat.data(), qLat.at(t, 0), qPe.data(), qPe.at(t, 0), qPeHeadStride, p % heads,
                        kvRank, rope, slab.data(), slab.offset(), slab.stride(), slots.data(), slots.offset() + from,
                        starts.get(t + 1) - from, scale, outLat.data(), outLat.at(t, 0), scores, true);
            }
        });
    }

    // ---- the vision tower (MoonViT-3D, issue 24) ---------------------------------------------------------------

    @Override
    public void layerNorm(Activation xa, Activation weight, Activation bias, float eps, Activation outa) {
        HostTensor x = host(xa);
        HostTensor out = host(outa);
        TensorMemory.sameShape(x, out, "LayerNorm");
        float[] w = whole(weight, x.cols(), "LayerNorm weight");
        float[] b = whole(bias, x.cols(), "LayerNorm bias");
        pool.parallelFor(x.rows(), Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, 4 * x.cols())), (lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                VisionKernels.layerNorm(x.data(), x.at(t, 0), x.cols(), w, b, eps, out.data(), out.at(t, 0), true);
            }
        });
    }

    @Override
    public void addBias(Activation bias, Activation ya) {
        HostTensor y = host(ya);
        float[] b = whole(bias, y.cols(), "bias");
        for (int t = 0; t < y.rows(); t++) {
            VisionKernels.addBias(b, y.data(), y.at(t, 0), y.cols());
        }
    }

    @Override
    public void gelu(Activation xa, Gelu form, Activation outa) {
        HostTensor x = host(xa);
        HostTensor out = host(outa);
        TensorMemory.sameShape(x, out, "GELU");
        pool.parallelFor(x.rows(), Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, 16 * x.cols())), (lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                switch (form) {
                    case TANH -> VisionKernels.geluTanh(x.data(), x.at(t, 0), out.data(), out.at(t, 0), x.cols());
                    case ERF -> VisionKernels.geluErf(x.data(), x.at(t, 0), out.data(), out.at(t, 0), x.cols());
                }
            }
        });
    }

    @Override
    public void rotatePairs(Activation xa, int heads, int headStride, Activation cosa, Activation sina) {
        HostTensor x = host(xa);
        HostTensor cos = host(cosa);
        HostTensor sin = host(sina);
        OperandChecks.rotatePairs(x, heads, headStride, cos, sin);
        for (int t = 0; t < x.rows(); t++) {
            for (int h = 0; h < heads; h++) {
                VisionKernels.rotatePairs(x.data(), x.at(t, h * headStride), cos.data(), cos.at(t, 0), sin.data(),
                        sin.at(t, 0), cos.cols());
            }
        }
    }

    @Override
    public void attentionSegments(Activation qa, Activation ka, Activation va, int heads, Indices segmentsi,
                                  float scale, Activation outa) {
        HostTensor q = host(qa);
        HostTensor k = host(ka);
        HostTensor v = host(va);
        HostTensor out = host(outa);
        HostIndices seg = host(segmentsi);
        OperandChecks.segments(q, k, v, heads, seg.length(), seg::get, out);
        int headDim = q.cols() / heads;
        int rows = q.rows();
        int[] segOf = new int[rows];
        int longest = 0;
        for (int s = 0; s + 1 < seg.length(); s++) {
            java.util.Arrays.fill(segOf, seg.get(s), seg.get(s + 1), s);
            longest = Math.max(longest, seg.get(s + 1) - seg.get(s));
        }
        int maxLen = longest;
        // keys and values transposed per (head, segment) so the query loops run along the segment
        float[][] packed = scratch.get().packedKv(rows * q.cols());
        float[] kt = packed[0];
        float[] vt = packed[1];
        int segs = seg.length() - 1;
        pool.parallelFor(heads * segs, 1, (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                int h = p / segs;
                int s = p % segs;
                int from = seg.get(s);
                VisionKernels.packSegment(k.data(), k.offset(), k.stride(), v.data(), v.offset(), v.stride(), h,
                        headDim, from, seg.get(s + 1) - from, kt, vt, (h * rows + from) * headDim);
            }
        });
        int minPairs = Math.max(1, MIN_WORK_PER_CHUNK / Math.max(1, maxLen * 2 * headDim));
        pool.parallelFor(rows * heads, minPairs, (lo, hi) -> {
            float[] scores = scratch.get().scores(maxLen);
            for (int p = lo; p < hi; p++) {
                int t = p / heads;
                int h = p % heads;
                int from = seg.get(segOf[t]);
                VisionKernels.attendPacked(q.data(), q.at(t, h * headDim), kt, vt, (h * rows + from) * headDim,
                        seg.get(segOf[t] + 1) - from, headDim, scale, out.data(), out.at(t, h * headDim), scores, true);
            }
        });
    }

    // ---- sampling -------------------------------------------------------------------------------------------

    @Override
    public PenaltyState tokenCounts(int[] prompt, int promptLength) {
        return new PenaltyState(prompt, promptLength);
    }

    @Override
    public void sample(Activation logits, SamplingBatch batch) {
        HostTensor l = host(logits);
        for (int i = 0; i < batch.rows(); i++) {
            Objects.checkIndex(batch.logitsRow(i), l.rows());
        }
        synchronized (sampler) {
            sampler.sample(l.data(), l.offset(), l.stride(), l.cols(), batch);
        }
    }

    // ---- checks ---------------------------------------------------------------------------------------------

    private static Bf16Weight bf16(LinearWeight w, String what) {
        if (w instanceof Bf16Weight b) {
            return b;
        }
        throw new IllegalArgumentException(what + " need a BF16 weight, got " + w.name());
    }

    private static int row(HostIndices rows, int i, int bound) {
        return Objects.checkIndex(rows.get(i), bound);
    }

    /** A {@code [1, len]} tensor's values as the whole array the scalar kernels index from 0. */
    private static float[] whole(Activation a, int len, String what) {
        HostTensor t = host(a);
        if (t.rows() != 1 || t.cols() != len || t.offset() != 0) {
            throw new IllegalArgumentException(what + ": [" + t.rows() + ", " + t.cols() + "] at offset " + t.offset()
                    + ", expected a whole vector of " + len);
        }
        return t.data();
    }

    /** One thread's reusable buffers, grown to the largest request and then kept. */
    private static final class Scratch {
        private float[][] prepared = new float[4][];
        private float[][] slots = new float[4][];
        private final int[][] ints = {new int[8], new int[8]};
        private float[] scores = new float[64];
        private float[][] packedKv = {new float[0], new float[0]};

        float[] prepared(int i, int len) {
            if (i >= prepared.length) {
                prepared = java.util.Arrays.copyOf(prepared, Math.max(i + 1, 2 * prepared.length));
            }
            if (prepared[i] == null || prepared[i].length < len) {
                prepared[i] = new float[Math.max(len, prepared[i] == null ? 0 : 2 * prepared[i].length)];
            }
            return prepared[i];
        }

        float[][] preparedSlots(int k) {
            if (slots.length < k) {
                slots = new float[Math.max(k, 2 * slots.length)][];
            }
            return slots;
        }

        int[] ints(int which, int len) {
            if (ints[which].length < len) {
                ints[which] = new int[Math.max(len, 2 * ints[which].length)];
            }
            java.util.Arrays.fill(ints[which], 0, len, 0);
            return ints[which];
        }

        /** Two buffers of at least {@code len} floats for transposed keys and values. */
        float[][] packedKv(int len) {
            if (packedKv[0].length < len) {
                packedKv = new float[][] {new float[len], new float[len]};
            }
            return packedKv;
        }

        float[] scores(int len) {
            if (scores.length < len) {
                scores = new float[Math.max(len, 2 * scores.length)];
            }
            return scores;
        }
    }
}
