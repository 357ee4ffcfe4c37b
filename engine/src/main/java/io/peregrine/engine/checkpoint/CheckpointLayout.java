package io.peregrine.engine.checkpoint;

import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.config.QuantizationConfig;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.config.VisionConfig;
import io.peregrine.engine.config.WeightFormat;
import java.util.ArrayList;
import java.util.List;

/**
 * Every tensor a checkpoint must hold for a config, with dtype and shape, computed from the config alone (spec §2):
 * the text decoder (names under {@code language_model.} for K2.5, bare for a text-only K2 / DeepSeek-V3 config),
 * then the vision tower and projector when the config has a vision part. A Linear module is stored quantized when
 * the quantization config says so (its {@code ignore} list decides, not the module's name).
 */
public final class CheckpointLayout {
    private final ModelConfig config;
    private final List<TensorSpec> out = new ArrayList<>();

    private CheckpointLayout(ModelConfig config) {
        this.config = config;
    }

    /** The tensors of the text model (and vision tower and projector when present), in model order. */
    public static List<TensorSpec> of(ModelConfig config) {
        CheckpointLayout l = new CheckpointLayout(config);
        l.text();
        config.vision().ifPresent(l::vision);
        return List.copyOf(l.out);
    }

    /** The prefix of text-model tensor names: {@code language_model.} in a K2.5 checkpoint, empty in a K2 one. */
    public static String textPrefix(ModelConfig config) {
        return config.vision().isPresent() ? QuantizationConfig.LANGUAGE_MODEL_PREFIX : "";
    }

    /** The name of layer {@code l}'s module {@code rest}, e.g. {@code language_model.model.layers.3.self_attn.o_proj}. */
    public static String layer(ModelConfig config, int l, String rest) {
        return textPrefix(config) + "model.layers." + l + "." + rest;
    }

    private void text() {
        TextConfig t = config.text();
        String p = textPrefix(config);
        long h = t.hiddenSize();
        bf16(p + "model.embed_tokens.weight", t.vocabSize(), h);
        for (int l = 0; l < t.numHiddenLayers(); l++) {
            String L = p + "model.layers." + l + ".";
            bf16(L + "input_layernorm.weight", h);
            int heads = t.numAttentionHeads();
            if (t.qLoraRank() > 0) {
                linear(L + "self_attn.q_a_proj", t.qLoraRank(), h, false);
                bf16(L + "self_attn.q_a_layernorm.weight", t.qLoraRank());
                linear(L + "self_attn.q_b_proj", (long) heads * t.qkHeadDim(), t.qLoraRank(), false);
            } else {
                linear(L + "self_attn.q_proj", (long) heads * t.qkHeadDim(), h, false);
            }
            linear(L + "self_attn.kv_a_proj_with_mqa", t.kvLoraRank() + t.qkRopeHeadDim(), h, false);
            bf16(L + "self_attn.kv_a_layernorm.weight", t.kvLoraRank());
            linear(L + "self_attn.kv_b_proj", (long) heads * (t.qkNopeHeadDim() + t.vHeadDim()), t.kvLoraRank(), false);
            linear(L + "self_attn.o_proj", h, (long) heads * t.vHeadDim(), false);
            bf16(L + "post_attention_layernorm.weight", h);
            if (t.isMoeLayer(l)) {
                // The router is a plain parameter, not an nn.Linear: quantization never targets it.
                bf16(L + "mlp.gate.weight", t.nRoutedExperts(), h);
                if ("noaux_tc".equals(t.topkMethod())) {
                    out.add(TensorSpec.of(L + "mlp.gate.e_score_correction_bias", DType.F32, t.nRoutedExperts()));
                }
                if (t.nSharedExperts() > 0) {
                    mlp(L + "mlp.shared_experts.", (long) t.nSharedExperts() * t.moeIntermediateSize(), h, false);
                }
                for (int e = 0; e < t.nRoutedExperts(); e++) {
                    mlp(L + "mlp.experts." + e + ".", t.moeIntermediateSize(), h, true);
                }
            } else {
                mlp(L + "mlp.", t.intermediateSize(), h, false);
            }
        }
        bf16(p + "model.norm.weight", h);
        if (!t.tieWordEmbeddings()) {
            linear(p + "lm_head", t.vocabSize(), h, false);
        }
    }

    private void mlp(String prefix, long inter, long h, boolean routed) {
        linear(prefix + "gate_proj", inter, h, routed);
        linear(prefix + "up_proj", inter, h, routed);
        linear(prefix + "down_proj", h, inter, routed);
    }

    private void linear(String module, long rows, long cols, boolean routed) {
        WeightFormat format = config.isQuantized(module) ? config.quantization().orElseThrow().format() : null;
        switch (format) {
            case null -> out.add(new TensorSpec(module + ".weight", DType.BF16, new long[] {rows, cols}, rows * cols, routed));
            case WeightFormat.PackedInt4 q -> {
                if (cols % q.groupSize() != 0) {
                    throw new CheckpointException("config: " + module + " has " + cols
                            + " input features, not a multiple of the INT4 group size " + q.groupSize());
                }
                out.add(new TensorSpec(module + ".weight_packed", DType.I32,
                        new long[] {rows, cols / Int4Group32.PER_WORD}, rows * cols, routed));
                out.add(new TensorSpec(module + ".weight_scale", DType.BF16,
                        new long[] {rows, cols / q.groupSize()}, 0, routed));
                out.add(new TensorSpec(module + ".weight_shape", DType.I32, new long[] {2}, 0, routed));
            }
            case WeightFormat.Fp8Block b -> {
                out.add(new TensorSpec(module + ".weight", DType.F8_E4M3, new long[] {rows, cols}, rows * cols, routed));
                out.add(new TensorSpec(module + ".weight_scale_inv", DType.F32,
                        new long[] {ceilDiv(rows, b.blockRows()), ceilDiv(cols, b.blockCols())}, 0, routed));
            }
        }
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private void bf16(String name, long... shape) {
        out.add(TensorSpec.of(name, DType.BF16, shape));
    }

    private void vision(VisionConfig v) {
        long d = v.vtHiddenSize();
        long inter = v.vtIntermediateSize();
        String t = "vision_tower.";
        bf16(t + "patch_embed.proj.weight", d, 3, v.patchSize(), v.patchSize());
        bf16(t + "patch_embed.proj.bias", d);
        bf16(t + "patch_embed.pos_emb.weight", v.initPosEmbHeight(), v.initPosEmbWidth(), d);
        for (int i = 0; i < v.vtNumHiddenLayers(); i++) {
            String b = t + "encoder.blocks." + i + ".";
            bf16(b + "norm0.weight", d);
            bf16(b + "norm0.bias", d);
            bf16(b + "wqkv.weight", 3 * d, d);
            bf16(b + "wqkv.bias", 3 * d);
            bf16(b + "wo.weight", d, d);
            bf16(b + "wo.bias", d);
            bf16(b + "norm1.weight", d);
            bf16(b + "norm1.bias", d);
            bf16(b + "mlp.fc0.weight", inter, d);
            bf16(b + "mlp.fc0.bias", inter);
            bf16(b + "mlp.fc1.weight", d, inter);
            bf16(b + "mlp.fc1.bias", d);
        }
        bf16(t + "encoder.final_layernorm.weight", d);
        bf16(t + "encoder.final_layernorm.bias", d);
        long mm = v.mmHiddenSize();
        long in = v.projectorInputSize();
        bf16("mm_projector.pre_norm.weight", mm);
        bf16("mm_projector.pre_norm.bias", mm);
        bf16("mm_projector.proj.0.weight", in, in);
        bf16("mm_projector.proj.0.bias", in);
        bf16("mm_projector.proj.2.weight", v.textHiddenSize(), in);
        bf16("mm_projector.proj.2.bias", v.textHiddenSize());
    }
}
