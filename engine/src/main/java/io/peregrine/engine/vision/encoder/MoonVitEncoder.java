package io.peregrine.engine.vision.encoder;

import io.peregrine.engine.config.VisionConfig;
import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.Gelu;
import io.peregrine.engine.backend.Indices;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.CheckpointException;
import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.vision.GridThw;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * MoonViT-3D + sd2_tpool merger + projector (spec §4.4–4.7) on a {@link Backend}: the CPU backend (the reference
 * twin of {@link OnnxVisionEncoder}) or the CUDA backend, where the tower runs next to the text model. Weights are
 * used as stored (BF16 through {@link Backend#upload}), activations fp32.
 *
 * <p>{@link #encodeAll} runs several vision items in one pass: their patches are stacked, every per-patch operation
 * runs over all of them at once, and attention is restricted to each item's own rows
 * ({@link Backend#attentionSegments}, the reference's {@code cu_seqlens}), so an item's embeddings do not depend on
 * the items it was batched with.
 *
 * <p>The shape-dependent inputs (bicubic position embedding, 2-D RoPE cos/sin) are computed on the host by
 * {@link VisionPositions}, exactly as for the ONNX graph, and copied in with the pixels. One pass at a time: the
 * activations live in a workspace that grows geometrically (a backend's memory is freed only when it closes, so
 * growth is bounded by twice the largest pass).
 */
public final class MoonVitEncoder implements VisionEncoder {

    private record Block(Activation norm0W, Activation norm0B, LinearWeight wqkv, Activation wqkvB, LinearWeight wo,
                         Activation woB, Activation norm1W, Activation norm1B, LinearWeight fc0, Activation fc0B,
                         LinearWeight fc1, Activation fc1B) {}

    /** The tower output (merged, before the projector) and the projector output of one item. */
    public record ItemOutput(float[] towerOut, VisionEmbeddings embeddings) {}

    private final Backend backend;
    private final VisionConfig cfg;
    private final float[] posTable;
    private final Arena weightsArena;
    /**
     * Product widths padded with zero weights to a multiple of {@link #COLUMN_STEP}, the tensor-core products' column
     * step: a patch row (3·14·14 = 588 → 608) and the MLP's hidden width (4304 → 4320). The padding adds exact zeros.
     */
    static final int COLUMN_STEP = 32;
    private final int patchCols;
    private final int ffCols;
    private final LinearWeight patchW;
    private final Activation patchB;
    private final List<Block> blocks;
    private final Activation finalW;
    private final Activation finalB;
    private final Activation preNormW;
    private final Activation preNormB;
    private final LinearWeight proj0;
    private final Activation proj0B;
    private final LinearWeight proj2;
    private final Activation proj2B;
    private Workspace ws;

    private MoonVitEncoder(Backend backend, Function<String, Tensor> ckpt, VisionConfig cfg) {
        this.backend = backend;
        this.cfg = cfg;
        Tensor pos = ckpt.apply("vision_tower.patch_embed.pos_emb.weight");
        if (pos.rank() != 3 || pos.dim(0) != cfg.initPosEmbHeight() || pos.dim(1) != cfg.initPosEmbWidth()
                || pos.dim(2) != cfg.vtHiddenSize()) {
            throw new CheckpointException("vision_tower.patch_embed.pos_emb.weight: expected [" + cfg.initPosEmbHeight()
                    + ", " + cfg.initPosEmbWidth() + ", " + cfg.vtHiddenSize() + "], got " + pos);
        }
        this.posTable = pos.toFloatArray();
        int d = cfg.vtHiddenSize();
        int patchIn = 3 * cfg.patchSize() * cfg.patchSize();
        this.patchCols = padded(patchIn);
        this.ffCols = padded(cfg.vtIntermediateSize());
        this.weightsArena = Arena.ofShared();
        Tensor conv = ckpt.apply("vision_tower.patch_embed.proj.weight");
        if (conv.numel() != (long) d * patchIn || conv.dim(0) != d) {
            throw new CheckpointException("vision_tower.patch_embed.proj.weight: expected [" + d + ", 3, "
                    + cfg.patchSize() + ", " + cfg.patchSize() + "], got " + conv);
        }
        this.patchW = backend.upload(padded(new Tensor(conv.name(), conv.dtype(), new long[] {d, patchIn}, conv.data()),
                d, patchCols));
        this.patchB = vector(ckpt, "vision_tower.patch_embed.proj.bias", d);
        List<Block> bs = new ArrayList<>();
        for (int i = 0; i < cfg.vtNumHiddenLayers(); i++) {
            String p = "vision_tower.encoder.blocks." + i + ".";
            bs.add(new Block(vector(ckpt, p + "norm0.weight", d), vector(ckpt, p + "norm0.bias", d),
                    linear(ckpt, p + "wqkv", 3 * d, d), vector(ckpt, p + "wqkv.bias", 3 * d),
                    linear(ckpt, p + "wo", d, d), vector(ckpt, p + "wo.bias", d),
                    vector(ckpt, p + "norm1.weight", d), vector(ckpt, p + "norm1.bias", d),
                    linear(ckpt, p + "mlp.fc0", cfg.vtIntermediateSize(), d, ffCols, d),
                    paddedVector(ckpt, p + "mlp.fc0.bias", cfg.vtIntermediateSize(), ffCols),
                    linear(ckpt, p + "mlp.fc1", d, cfg.vtIntermediateSize(), d, ffCols), vector(ckpt, p + "mlp.fc1.bias", d)));
        }
        this.blocks = List.copyOf(bs);
        this.finalW = vector(ckpt, "vision_tower.encoder.final_layernorm.weight", d);
        this.finalB = vector(ckpt, "vision_tower.encoder.final_layernorm.bias", d);
        int mk = cfg.mergeKernel();
        int merged = mk * mk * d;
        Tensor p0 = ckpt.apply("mm_projector.proj.0.weight");
        Tensor p2 = ckpt.apply("mm_projector.proj.2.weight");
        if (p0.rank() != 2 || p2.rank() != 2 || p0.dim(1) != merged || p2.dim(1) != p0.dim(0) || p2.dim(0) != cfg.textHiddenSize()) {
            throw new CheckpointException("mm_projector shapes " + p0 + ", " + p2 + " do not fit merge " + mk + "x" + mk
                    + " of hidden " + d + " into text_hidden_size " + cfg.textHiddenSize());
        }
        int mid = (int) p0.dim(0);
        this.preNormW = vector(ckpt, "mm_projector.pre_norm.weight", d);
        this.preNormB = vector(ckpt, "mm_projector.pre_norm.bias", d);
        this.proj0 = linear(ckpt, "mm_projector.proj.0", mid, merged);
        this.proj0B = vector(ckpt, "mm_projector.proj.0.bias", mid);
        this.proj2 = linear(ckpt, "mm_projector.proj.2", cfg.textHiddenSize(), mid);
        this.proj2B = vector(ckpt, "mm_projector.proj.2.bias", cfg.textHiddenSize());
    }

    /** Uploads the tower's and the projector's weights to {@code backend}; the backend stays the caller's. */
    public static MoonVitEncoder load(Checkpoint ckpt, Backend backend) {
        return new MoonVitEncoder(backend, ckpt::tensor, TowerLimits.config(ckpt));
    }

    /** From weights by checkpoint name (synthetic ones in the device check's throughput table). */
    public static MoonVitEncoder load(VisionConfig cfg, Function<String, Tensor> weights, Backend backend) {
        return new MoonVitEncoder(backend, weights, cfg);
    }

    public VisionConfig config() {
        return cfg;
    }

    public Backend backend() {
        return backend;
    }

    @Override
    public int outputHidden() {
        return cfg.textHiddenSize();
    }

    @Override
    public VisionEmbeddings encode(PreprocessedImage image) {
        return encodeAll(List.of(image)).getFirst();
    }

    @Override
    public List<VisionEmbeddings> encodeAll(List<PreprocessedImage> images) {
        List<VisionEmbeddings> out = new ArrayList<>(images.size());
        for (ItemOutput o : run(images, false)) {
            out.add(o.embeddings());
        }
        return out;
    }

    /** One pass over {@code images}, also returning each item's merged tower output {@code [tokens, 4·hidden]}. */
    public List<ItemOutput> towerAndProjector(List<PreprocessedImage> images) {
        return run(images, true);
    }

    private synchronized List<ItemOutput> run(List<PreprocessedImage> images, boolean withTower) {
        if (images.isEmpty()) {
            return List.of();
        }
        int d = cfg.vtHiddenSize();
        int pairs = cfg.headDim() / 2;
        int mk = cfg.mergeKernel();
        int items = images.size();
        int[] rowStart = new int[items + 1];
        int[] tokStart = new int[items + 1];
        int maxT = 1;
        for (int i = 0; i < items; i++) {
            PreprocessedImage img = images.get(i);
            TowerLimits.check(cfg, img);
            rowStart[i + 1] = Math.addExact(rowStart[i], img.grid().patches());
            tokStart[i + 1] = tokStart[i] + img.grid().mergedTokens(mk);
            maxT = Math.max(maxT, img.grid().t());
        }
        int rows = rowStart[items];
        int tokens = tokStart[items];
        Workspace w = workspace(rows, tokens);

        // inputs: pixels (padded columns zero), position embedding, RoPE tables, segment bounds
        int patchIn = 3 * cfg.patchSize() * cfg.patchSize();
        float[] px = new float[Math.multiplyExact(rows, patchCols)];
        float[] pos = new float[Math.multiplyExact(rows, d)];
        float[] cos = new float[rows * pairs];
        float[] sin = new float[rows * pairs];
        for (int i = 0; i < items; i++) {
            PreprocessedImage img = images.get(i);
            float[] pv = img.pixelValues();
            for (int r = 0; r < img.grid().patches(); r++) {
                System.arraycopy(pv, r * patchIn, px, (rowStart[i] + r) * patchCols, patchIn);
            }
            float[] p = VisionPositions.posEmbedding(posTable, cfg.initPosEmbHeight(), cfg.initPosEmbWidth(), d, img.grid());
            System.arraycopy(p, 0, pos, rowStart[i] * d, p.length);
            float[][] rope = VisionPositions.rope(cfg.headDim(), img.grid());
            System.arraycopy(rope[0], 0, cos, rowStart[i] * pairs, rope[0].length);
            System.arraycopy(rope[1], 0, sin, rowStart[i] * pairs, rope[1].length);
        }
        Activation pixels = w.pixels.rows(0, rows);
        Activation x = w.x.rows(0, rows);
        Activation cosA = w.cos.rows(0, rows);
        Activation sinA = w.sin.rows(0, rows);
        backend.copyIn(px, 0, pixels);
        backend.copyIn(pos, 0, w.tmp.rows(0, rows));
        backend.copyIn(cos, 0, cosA);
        backend.copyIn(sin, 0, sinA);
        Indices segments = w.segments.slice(0, items + 1);
        backend.copyIn(rowStart, 0, segments);

        // patch embedding (Conv2d k = s = 14 as a product over each patch's 588 values) + position embedding
        backend.matmul(patchW, pixels, x);
        backend.addBias(patchB, x);
        backend.add(w.tmp.rows(0, rows), x);

        Activation n = w.tmp.rows(0, rows);
        Activation qkv = w.qkv.rows(0, rows);
        Activation ctx = w.ctx.rows(0, rows);
        Activation ff = w.ff.rows(0, rows);
        float scale = (float) (1.0 / Math.sqrt(cfg.headDim()));
        for (Block b : blocks) {
            backend.layerNorm(x, b.norm0W, b.norm0B, (float) VisionConfig.TOWER_LN_EPS, n);
            backend.matmul(b.wqkv, n, qkv);
            backend.addBias(b.wqkvB, qkv);
            Activation q = qkv.cols(0, d);
            Activation k = qkv.cols(d, d);
            backend.rotatePairs(q, cfg.vtNumAttentionHeads(), cfg.headDim(), cosA, sinA);
            backend.rotatePairs(k, cfg.vtNumAttentionHeads(), cfg.headDim(), cosA, sinA);
            backend.attentionSegments(q, k, qkv.cols(2 * d, d), cfg.vtNumAttentionHeads(), segments, scale, ctx);
            backend.matmul(b.wo, ctx, n);
            backend.addBias(b.woB, n);
            backend.add(n, x);
            backend.layerNorm(x, b.norm1W, b.norm1B, (float) VisionConfig.TOWER_LN_EPS, n);
            backend.matmul(b.fc0, n, ff);
            backend.addBias(b.fc0B, ff);
            backend.gelu(ff, Gelu.TANH, ff);
            backend.matmul(b.fc1, ff, n);
            backend.addBias(b.fc1B, n);
            backend.add(n, x);
        }
        backend.layerNorm(x, finalW, finalB, (float) VisionConfig.TOWER_LN_EPS, x);

        Activation merged = w.merged.rows(0, tokens);
        merge(images, rowStart, tokStart, maxT, x, merged, w);

        // projector: LayerNorm of each sub-patch, the 4 concatenated, Linear, exact GELU, Linear. It runs at least
        // two rows (the second, if spare, is ignored): a backend may take another product path for one row alone
        // (the CPU's one-token kernel sums in another order), and an item's bits must not depend on its batch.
        int projRows = Math.max(tokens, 2);
        merged = w.merged.rows(0, projRows);
        Activation normed = w.normed.rows(0, projRows);
        for (int s = 0; s < mk * mk; s++) {
            backend.layerNorm(merged.cols(s * d, d), preNormW, preNormB, (float) cfg.projectorLnEps(),
                    normed.cols(s * d, d));
        }
        Activation mid = w.mid.rows(0, projRows);
        backend.matmul(proj0, normed, mid);
        backend.addBias(proj0B, mid);
        backend.gelu(mid, Gelu.ERF, mid);
        Activation out = w.out.rows(0, projRows);
        backend.matmul(proj2, mid, out);
        backend.addBias(proj2B, out);

        float[] emb = new float[tokens * cfg.textHiddenSize()];
        backend.copyOut(out.rows(0, tokens), emb, 0);
        float[] tower = null;
        if (withTower) {
            tower = new float[tokens * mk * mk * d];
            backend.copyOut(merged.rows(0, tokens), tower, 0);
        }
        List<ItemOutput> result = new ArrayList<>(items);
        for (int i = 0; i < items; i++) {
            int t0 = tokStart[i];
            int count = tokStart[i + 1] - t0;
            float[] e = java.util.Arrays.copyOfRange(emb, t0 * cfg.textHiddenSize(), (t0 + count) * cfg.textHiddenSize());
            float[] tw = tower == null ? null
                    : java.util.Arrays.copyOfRange(tower, t0 * mk * mk * d, (t0 + count) * mk * mk * d);
            result.add(new ItemOutput(tw, new VisionEmbeddings(count, cfg.textHiddenSize(), e)));
        }
        return result;
    }

    /**
     * sd2_tpool: merged token (i, j) of an item is the 2×2 patches (2i + a, 2j + b), ordered (0,0),(0,1),(1,0),(1,1)
     * into column bands of {@code merged}, each the mean over the item's frames. Frame by frame and band by band the
     * rows are gathered, then added scaled by 1/t into their band (for one frame, 1·x + 0 = x exactly); a pass of
     * images only gathers straight into the bands (the same bits).
     */
    private void merge(List<PreprocessedImage> images, int[] rowStart, int[] tokStart, int maxT, Activation x,
                       Activation merged, Workspace w) {
        int d = cfg.vtHiddenSize();
        int mk = cfg.mergeKernel();
        int tokens = tokStart[images.size()];
        if (maxT > 1) {
            backend.zero(merged);
        }
        int[] src = new int[tokens];
        int[] dst = new int[tokens];
        float[] scale = new float[tokens];
        for (int f = 0; f < maxT; f++) {
            for (int a = 0; a < mk; a++) {
                for (int b = 0; b < mk; b++) {
                    int count = 0;
                    for (int i = 0; i < images.size(); i++) {
                        GridThw g = images.get(i).grid();
                        if (f >= g.t()) {
                            continue;
                        }
                        int gw = g.w() / mk;
                        for (int m = 0; m < tokStart[i + 1] - tokStart[i]; m++) {
                            int row = (m / gw) * mk + a;
                            int col = (m % gw) * mk + b;
                            src[count] = rowStart[i] + f * g.h() * g.w() + row * g.w() + col;
                            dst[count] = tokStart[i] + m;
                            scale[count] = 1f / g.t();
                            count++;
                        }
                    }
                    if (count == 0) {
                        continue;
                    }
                    Indices from = w.gatherSrc.slice(0, count);
                    backend.copyIn(src, 0, from);
                    Activation band = merged.cols((a * mk + b) * d, d);
                    if (maxT == 1) { // images only: every token once, in order, unscaled
                        backend.gatherRows(x, from, band);
                        continue;
                    }
                    Indices to = w.gatherDst.slice(0, count);
                    Activation scales = w.scales.cols(0, count);
                    backend.copyIn(dst, 0, to);
                    backend.copyIn(scale, 0, scales);
                    Activation gathered = w.gathered.rows(0, count);
                    backend.gatherRows(x, from, gathered);
                    backend.scatterAddScaled(gathered, to, scales, band);
                }
            }
        }
    }

    /** The activations of one pass, sized for {@code rows} patches and {@code tokens} merged tokens. */
    private final class Workspace {
        final int rows;
        final int tokens;
        final Activation pixels;
        final Activation x;
        final Activation tmp;
        final Activation qkv;
        final Activation ctx;
        final Activation ff;
        final Activation cos;
        final Activation sin;
        final Indices segments;
        final Activation merged;
        final Activation normed;
        final Activation mid;
        final Activation out;
        final Indices gatherSrc;
        final Indices gatherDst;
        final Activation scales;
        final Activation gathered;

        Workspace(int rows, int tokens, int items) {
            this.rows = rows;
            this.tokens = tokens;
            int d = cfg.vtHiddenSize();
            int mk2 = cfg.mergeKernel() * cfg.mergeKernel();
            pixels = backend.allocate(rows, patchCols);
            x = backend.allocate(rows, d);
            tmp = backend.allocate(rows, d);
            qkv = backend.allocate(rows, 3 * d);
            ctx = backend.allocate(rows, d);
            ff = backend.allocate(rows, ffCols);
            cos = backend.allocate(rows, cfg.headDim() / 2);
            sin = backend.allocate(rows, cfg.headDim() / 2);
            segments = backend.allocateIndices(items + 1);
            merged = backend.allocate(tokens, mk2 * d);
            normed = backend.allocate(tokens, mk2 * d);
            mid = backend.allocate(tokens, proj0.rows());
            out = backend.allocate(tokens, cfg.textHiddenSize());
            gatherSrc = backend.allocateIndices(tokens);
            gatherDst = backend.allocateIndices(tokens);
            scales = backend.allocate(1, tokens);
            gathered = backend.allocate(tokens, d);
        }
    }

    private Workspace workspace(int rows, int tokens) {
        // every item has at least one merged token, so `tokens` bounds the segment count too
        if (ws == null || ws.rows < rows || ws.tokens < tokens) {
            int r = Math.max(rows, ws == null ? 0 : 2 * ws.rows);
            int t = Math.max(Math.max(tokens, 2), ws == null ? 0 : 2 * ws.tokens);
            ws = new Workspace(r, t, t);
        }
        return ws;
    }

    private LinearWeight linear(Function<String, Tensor> ckpt, String prefix, int rows, int cols) {
        return linear(ckpt, prefix, rows, cols, rows, cols);
    }

    /** A {@code [rows, cols]} weight uploaded as {@code [padRows, padCols]}, zero outside. */
    private LinearWeight linear(Function<String, Tensor> ckpt, String prefix, int rows, int cols, int padRows, int padCols) {
        Tensor t = ckpt.apply(prefix + ".weight");
        if (t.rank() != 2 || t.dim(0) != rows || t.dim(1) != cols) {
            throw new CheckpointException(prefix + ".weight: expected [" + rows + ", " + cols + "], got " + t);
        }
        return backend.upload(padRows == rows && padCols == cols ? t : padded(t, padRows, padCols));
    }

    private Activation vector(Function<String, Tensor> ckpt, String name, int size) {
        return paddedVector(ckpt, name, size, size);
    }

    private Activation paddedVector(Function<String, Tensor> ckpt, String name, int size, int padded) {
        Tensor t = ckpt.apply(name);
        if (t.numel() != size) {
            throw new CheckpointException(name + ": expected " + size + " elements, got " + t);
        }
        return backend.vector(java.util.Arrays.copyOf(t.toFloatArray(), padded));
    }

    private static int padded(int width) {
        return (width + COLUMN_STEP - 1) / COLUMN_STEP * COLUMN_STEP;
    }

    /** A BF16 matrix copied into a zeroed {@code [padRows, padCols]} one (kept in this encoder's arena). */
    private Tensor padded(Tensor w, int padRows, int padCols) {
        if (w.dtype() != DType.BF16) {
            throw new CheckpointException(w.name() + ": the vision tower's weights are BF16, got " + w);
        }
        int rows = (int) w.dim(0);
        int cols = (int) w.dim(1);
        MemorySegment out = weightsArena.allocate((long) padRows * padCols * 2, 16);
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(w.data(), (long) r * cols * 2, out, (long) r * padCols * 2, (long) cols * 2);
        }
        return new Tensor(w.name(), DType.BF16, new long[] {padRows, padCols}, out);
    }

    /** The uploaded weights stay with the backend (freed when it closes); the padded patch weight is ours. */
    @Override
    public void close() {
        weightsArena.close();
    }
}
