package io.peregrine.engine.vision.encoder;

import io.peregrine.engine.config.VisionConfig;
import static io.peregrine.engine.vision.onnx.OnnxGraph.fixed;
import static io.peregrine.engine.vision.onnx.OnnxGraph.sym;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.CheckpointException;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.vision.onnx.OnnxGraph;
import io.peregrine.engine.vision.onnx.OnnxGraph.Attr;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Builds the ONNX graph of MoonViT-3D + sd2_tpool merger + projector for ONE vision item (spec §4.4–4.7) from
 * the checkpoint's {@code vision_tower.*} and {@code mm_projector.*} weights, all in float32.
 *
 * <p>Graph inputs (shape-dependent pieces are computed in Java by {@link VisionPositions}):
 * {@code pixel_values [P, 3*14*14]}, {@code pos_emb [P, D]}, {@code rope_cos / rope_sin [P, 1, head_dim/2]},
 * {@code merge_shape} int64 [6] = (t, h/2, 2, w/2, 2, D). Outputs: {@code vision_tower_out [N, 4, D]} and
 * {@code projector_out [N, text_hidden]}; with {@code intermediates}, also the reference's debug tensors.
 *
 * <p>Attention is bidirectional over all patches of the item (all frames of a chunk together); see
 * {@link Attention} for the two ways the graph can compute it.
 */
public final class MoonVitGraph {
    public static final String PIXELS = "pixel_values";
    public static final String POS_EMB = "pos_emb";
    public static final String ROPE_COS = "rope_cos";
    public static final String ROPE_SIN = "rope_sin";
    public static final String MERGE_SHAPE = "merge_shape";
    public static final String TOWER_OUT = "vision_tower_out";
    public static final String PROJECTOR_OUT = "projector_out";

    /** Changes whenever the emitted graph changes, so cached models built by older code are not reused. */
    public static final String VERSION = "moonvit3d-onnx-v2";

    /** How a block computes softmax(q kᵀ / sqrt(d)) v. */
    public enum Attention {
        /**
         * ONNX Runtime's contrib MultiHeadAttention: on CPU a flash-attention kernel that never materialises the
         * [heads, P, P] scores, so large images fit in memory.
         */
        FUSED,
        /** Plain MatMul / Softmax / MatMul over the full score tensor: the reference twin of FUSED. */
        PLAIN
    }

    private final Checkpoint ckpt;
    private final VisionConfig cfg;
    private final Attention attention;
    private final OnnxGraph g = new OnnxGraph();

    private MoonVitGraph(Checkpoint ckpt, VisionConfig cfg, Attention attention) {
        this.ckpt = ckpt;
        this.cfg = cfg;
        this.attention = attention;
    }

    /** Intermediate outputs, named like the golden {@code vision_intermediates.safetensors}. */
    public static List<String> intermediateNames(int layers) {
        List<String> names = new java.util.ArrayList<>(List.of("patch_embed.proj_out", "patch_embed_out_with_pos_emb"));
        for (int i = 0; i < layers; i++) {
            names.add("encoder.blocks." + i + ".out");
        }
        names.add("encoder.final_layernorm_out");
        return names;
    }

    public static void write(Checkpoint ckpt, VisionConfig cfg, Attention attention, boolean intermediates, Path model,
                             String weightsFile) throws IOException {
        MoonVitGraph b = new MoonVitGraph(ckpt, cfg, attention);
        b.build(intermediates);
        b.g.write(model, weightsFile, VERSION);
    }

    private void build(boolean intermediates) {
        int d = cfg.vtHiddenSize();
        int p = cfg.patchSize();
        int patchIn = 3 * p * p;
        int pairs = cfg.headDim() / 2;
        g.input(PIXELS, false, sym("patches"), fixed(patchIn));
        g.input(POS_EMB, false, sym("patches"), fixed(d));
        g.input(ROPE_COS, false, sym("patches"), fixed(1), fixed(pairs));
        g.input(ROPE_SIN, false, sym("patches"), fixed(1), fixed(pairs));
        g.input(MERGE_SHAPE, true, fixed(6));

        // Conv2d(3, D, k=s=14) on one patch == Linear over its 588 values in (c, ky, kx) order.
        String w = linearWeight("vision_tower.patch_embed.proj", d, patchIn);
        String proj = add(g.op("MatMul", List.of(PIXELS, w)), vector("vision_tower.patch_embed.proj.bias", d));
        String x = g.op("Add", List.of(proj, POS_EMB));
        if (intermediates) {
            expose("patch_embed.proj_out", proj);
            expose("patch_embed_out_with_pos_emb", x);
        }
        for (int i = 0; i < cfg.vtNumHiddenLayers(); i++) {
            x = block(i, x);
            if (intermediates) {
                expose("encoder.blocks." + i + ".out", x);
            }
        }
        x = layerNorm(x, "vision_tower.encoder.final_layernorm", d, VisionConfig.TOWER_LN_EPS);
        if (intermediates) {
            expose("encoder.final_layernorm_out", x);
        }

        // sd2_tpool: (t, h/2, 2, w/2, 2, D) -> mean over t -> (h/2, w/2, 2, 2, D) -> [N, 4, D]
        String grid = g.op("Reshape", List.of(x, MERGE_SHAPE));
        String pooled = g.op("ReduceMean", List.of(grid, g.int64Constant(0)), new Attr.Int("keepdims", 0));
        String swapped = g.op("Transpose", List.of(pooled), new Attr.Ints("perm", new long[] {0, 2, 1, 3, 4}));
        int mk = cfg.mergeKernel();
        g.opNamed(TOWER_OUT, "Reshape", List.of(swapped, g.int64Constant(-1, (long) mk * mk, d)));
        g.output(TOWER_OUT, sym("tokens"), fixed((long) mk * mk), fixed(d));

        // Projector: LayerNorm per sub-patch, concat, Linear, exact GELU, Linear.
        int merged = mk * mk * d;
        Tensor proj0 = ckpt.tensor("mm_projector.proj.0.weight");
        Tensor proj2 = ckpt.tensor("mm_projector.proj.2.weight");
        int mid = (int) proj0.dim(0);
        int textHidden = (int) proj2.dim(0);
        if (proj0.dim(1) != merged || proj2.dim(1) != mid || textHidden != cfg.textHiddenSize()) {
            throw new CheckpointException("mm_projector shapes " + proj0 + ", " + proj2 + " do not fit merge "
                    + mk + "x" + mk + " of hidden " + d + " into text_hidden_size " + cfg.textHiddenSize());
        }
        String y = layerNorm(TOWER_OUT, "mm_projector.pre_norm", d, cfg.projectorLnEps());
        y = g.op("Reshape", List.of(y, g.int64Constant(-1, merged)));
        y = add(g.op("MatMul", List.of(y, linearWeight("mm_projector.proj.0", mid, merged))),
                vector("mm_projector.proj.0.bias", mid));
        y = g.op("Gelu", List.of(y));
        String out = g.op("MatMul", List.of(y, linearWeight("mm_projector.proj.2", textHidden, mid)));
        g.opNamed(PROJECTOR_OUT, "Add", List.of(out, vector("mm_projector.proj.2.bias", textHidden)));
        g.output(PROJECTOR_OUT, sym("tokens"), fixed(textHidden));
    }

    /** Pre-LN block: x + Wo·attn(RoPE2D(LN0 x)), then x + fc1·gelu_tanh(fc0·LN1 x). */
    private String block(int i, String x) {
        String pre = "vision_tower.encoder.blocks." + i + ".";
        int d = cfg.vtHiddenSize();
        int h = cfg.vtNumAttentionHeads();
        int hd = cfg.headDim();
        String n0 = layerNorm(x, pre + "norm0", d, VisionConfig.TOWER_LN_EPS);
        String qkv = add(g.op("MatMul", List.of(n0, linearWeight(pre + "wqkv", 3 * d, d))), vector(pre + "wqkv.bias", 3 * d));
        // [P, 3D] -> [P, 3, H, hd]: q, k, v are consecutive D-wide column blocks, heads contiguous inside each.
        String split = g.op("Reshape", List.of(qkv, g.int64Constant(0, 3, h, hd)));
        String q = rope(g.op("Gather", List.of(split, g.int64Scalar(0)), new Attr.Int("axis", 1)), h, hd);
        String k = rope(g.op("Gather", List.of(split, g.int64Scalar(1)), new Attr.Int("axis", 1)), h, hd);
        String v = g.op("Gather", List.of(split, g.int64Scalar(2)), new Attr.Int("axis", 1));
        String ctx = attention == Attention.FUSED ? fusedAttention(q, k, v, h, d) : plainAttention(q, k, v, hd, d);
        String attn = add(g.op("MatMul", List.of(ctx, linearWeight(pre + "wo", d, d))), vector(pre + "wo.bias", d));
        x = g.op("Add", List.of(x, attn));

        int ff = cfg.vtIntermediateSize();
        String n1 = layerNorm(x, pre + "norm1", d, VisionConfig.TOWER_LN_EPS);
        String f0 = add(g.op("MatMul", List.of(n1, linearWeight(pre + "mlp.fc0", ff, d))), vector(pre + "mlp.fc0.bias", ff));
        String act = g.op("Gelu", List.of(f0), new Attr.Str("approximate", "tanh"));
        String f1 = add(g.op("MatMul", List.of(act, linearWeight(pre + "mlp.fc1", d, ff))), vector(pre + "mlp.fc1.bias", d));
        return g.op("Add", List.of(x, f1));
    }

    /** q, k, v [P, H, hd] -> [P, D] through com.microsoft.MultiHeadAttention (packed [1, P, D] inputs). */
    private String fusedAttention(String q, String k, String v, int h, int d) {
        String packed = g.int64Constant(1, -1, d);
        String out = g.contribOp("MultiHeadAttention", List.of(g.op("Reshape", List.of(q, packed)),
                g.op("Reshape", List.of(k, packed)), g.op("Reshape", List.of(v, packed))),
                new Attr.Int("num_heads", h));
        return g.op("Reshape", List.of(out, g.int64Constant(-1, d)));
    }

    private String plainAttention(String q, String k, String v, int hd, int d) {
        Attr toHeads = new Attr.Ints("perm", new long[] {1, 0, 2});
        String qh = g.op("Transpose", List.of(q), toHeads);
        String kt = g.op("Transpose", List.of(k), new Attr.Ints("perm", new long[] {1, 2, 0}));
        String vh = g.op("Transpose", List.of(v), toHeads);
        String scores = g.op("Mul", List.of(g.op("MatMul", List.of(qh, kt)), g.floatScalar((float) (1.0 / Math.sqrt(hd)))));
        String probs = g.op("Softmax", List.of(scores), new Attr.Int("axis", -1));
        String ctx = g.op("Transpose", List.of(g.op("MatMul", List.of(probs, vh))), toHeads);
        return g.op("Reshape", List.of(ctx, g.int64Constant(0, d)));
    }

    /** [P, H, hd] rotated as hd/2 complex numbers of adjacent elements (view_as_complex). */
    private String rope(String t, int h, int hd) {
        String pairs = g.op("Reshape", List.of(t, g.int64Constant(0, h, hd / 2, 2)));
        String re = g.op("Gather", List.of(pairs, g.int64Scalar(0)), new Attr.Int("axis", 3));
        String im = g.op("Gather", List.of(pairs, g.int64Scalar(1)), new Attr.Int("axis", 3));
        String outRe = g.op("Sub", List.of(g.op("Mul", List.of(re, ROPE_COS)), g.op("Mul", List.of(im, ROPE_SIN))));
        String outIm = g.op("Add", List.of(g.op("Mul", List.of(re, ROPE_SIN)), g.op("Mul", List.of(im, ROPE_COS))));
        String axis = g.int64Constant(-1);
        String joined = g.op("Concat", List.of(g.op("Unsqueeze", List.of(outRe, axis)),
                g.op("Unsqueeze", List.of(outIm, axis))), new Attr.Int("axis", -1));
        return g.op("Reshape", List.of(joined, g.int64Constant(0, h, hd)));
    }

    private String layerNorm(String x, String prefix, int d, double eps) {
        return g.op("LayerNormalization", List.of(x, vector(prefix + ".weight", d), vector(prefix + ".bias", d)),
                new Attr.Int("axis", -1), new Attr.Flt("epsilon", (float) eps));
    }

    private String add(String a, String b) {
        return g.op("Add", List.of(a, b));
    }

    private void expose(String name, String value) {
        g.opNamed(name, "Identity", List.of(value));
        g.output(name, sym("patches"), fixed(cfg.vtHiddenSize()));
    }

    private String vector(String name, int size) {
        Tensor t = checked(name, size);
        return g.floatInitializer(name, new long[] {size}, t::toFloatArray);
    }

    /** A PyTorch [out, in(...)] weight as an ONNX [in, out] matrix, so the graph computes x·Wᵀ with MatMul. */
    private String linearWeight(String prefix, int out, int in) {
        String name = prefix + ".weight";
        Tensor t = checked(name, (long) out * in);
        if (t.dim(0) != out) {
            throw new CheckpointException(name + ": expected " + out + " output rows, got " + t);
        }
        return g.floatInitializer(name + ".T", new long[] {in, out}, () -> {
            float[] src = t.toFloatArray();
            float[] dst = new float[src.length];
            for (int o = 0; o < out; o++) {
                for (int k = 0; k < in; k++) {
                    dst[k * out + o] = src[o * in + k];
                }
            }
            return dst;
        });
    }

    private Tensor checked(String name, long numel) {
        Tensor t = ckpt.tensor(name);
        if (t.numel() != numel) {
            throw new CheckpointException(name + ": expected " + numel + " elements for vision_config "
                    + "(hidden " + cfg.vtHiddenSize() + "), got " + t + " " + Arrays.toString(t.shape()));
        }
        return t;
    }
}
