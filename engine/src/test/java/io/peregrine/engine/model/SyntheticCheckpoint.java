package io.peregrine.engine.model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Writes a random text-only DeepSeek-V3-layout checkpoint (config.json + one model.safetensors) with INT4
 * pack-quantized routed experts, for benchmarks that need more weight bytes than the tiny golden model has.
 * Values are random but scaled like a real init so activations stay finite.
 */
final class SyntheticCheckpoint {
    /** The shape knobs; everything else is K2.5's. */
    record Shape(int vocab, int hidden, int layers, int heads, int qLora, int kvLora, int nope, int rope, int vDim,
                 int denseInter, int moeInter, int experts, int topK) {}

    private record Entry(String name, String dtype, long[] shape, Filler fill) {}

    @FunctionalInterface
    private interface Filler {
        void fill(ByteBuffer b, SplittableRandom rnd);
    }

    private SyntheticCheckpoint() {}

    static Path write(Path dir, Shape s) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), config(s));
        List<Entry> entries = new ArrayList<>();
        bf16(entries, "model.embed_tokens.weight", s.vocab, s.hidden, 1.0);
        bf16(entries, "lm_head.weight", s.vocab, s.hidden, 1.0 / Math.sqrt(s.hidden));
        ones(entries, "model.norm.weight", s.hidden);
        for (int l = 0; l < s.layers; l++) {
            String p = "model.layers." + l + ".";
            ones(entries, p + "input_layernorm.weight", s.hidden);
            ones(entries, p + "post_attention_layernorm.weight", s.hidden);
            String a = p + "self_attn.";
            bf16(entries, a + "q_a_proj.weight", s.qLora, s.hidden, 1.0 / Math.sqrt(s.hidden));
            ones(entries, a + "q_a_layernorm.weight", s.qLora);
            bf16(entries, a + "q_b_proj.weight", s.heads * (s.nope + s.rope), s.qLora, 1.0 / Math.sqrt(s.qLora));
            bf16(entries, a + "kv_a_proj_with_mqa.weight", s.kvLora + s.rope, s.hidden, 1.0 / Math.sqrt(s.hidden));
            ones(entries, a + "kv_a_layernorm.weight", s.kvLora);
            bf16(entries, a + "kv_b_proj.weight", s.heads * (s.nope + s.vDim), s.kvLora, 1.0 / Math.sqrt(s.kvLora));
            bf16(entries, a + "o_proj.weight", s.hidden, s.heads * s.vDim, 1.0 / Math.sqrt(s.heads * s.vDim));
            if (l == 0) {
                mlpBf16(entries, p + "mlp.", s.hidden, s.denseInter);
            } else {
                bf16(entries, p + "mlp.gate.weight", s.experts, s.hidden, 1.0 / Math.sqrt(s.hidden));
                entries.add(new Entry(p + "mlp.gate.e_score_correction_bias", "F32", new long[] {s.experts},
                        (b, r) -> {
                            while (b.hasRemaining()) {
                                b.putFloat((float) (r.nextDouble() * 0.1));
                            }
                        }));
                mlpBf16(entries, p + "mlp.shared_experts.", s.hidden, s.moeInter);
                for (int e = 0; e < s.experts; e++) {
                    String x = p + "mlp.experts." + e + ".";
                    int4(entries, x + "gate_proj", s.moeInter, s.hidden);
                    int4(entries, x + "up_proj", s.moeInter, s.hidden);
                    int4(entries, x + "down_proj", s.hidden, s.moeInter);
                }
            }
        }
        writeSafetensors(dir.resolve("model.safetensors"), entries);
        return dir;
    }

    private static void mlpBf16(List<Entry> out, String p, int hidden, int inter) {
        bf16(out, p + "gate_proj.weight", inter, hidden, 1.0 / Math.sqrt(hidden));
        bf16(out, p + "up_proj.weight", inter, hidden, 1.0 / Math.sqrt(hidden));
        bf16(out, p + "down_proj.weight", hidden, inter, 1.0 / Math.sqrt(inter));
    }

    private static void bf16(List<Entry> out, String name, int rows, int cols, double scale) {
        out.add(new Entry(name, "BF16", new long[] {rows, cols}, (b, r) -> {
            while (b.hasRemaining()) {
                float v = (float) ((r.nextDouble() * 2 - 1) * 1.7 * scale);
                b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
            }
        }));
    }

    private static void ones(List<Entry> out, String name, int n) {
        out.add(new Entry(name, "BF16", new long[] {n}, (b, r) -> {
            while (b.hasRemaining()) {
                b.putShort((short) (Float.floatToRawIntBits(1f) >>> 16));
            }
        }));
    }

    private static void int4(List<Entry> out, String module, int rows, int cols) {
        out.add(new Entry(module + ".weight_packed", "I32", new long[] {rows, cols / 8}, (b, r) -> {
            while (b.hasRemaining()) {
                b.putInt(r.nextInt());
            }
        }));
        float scale = (float) (1.0 / Math.sqrt(cols) / 4.6);
        out.add(new Entry(module + ".weight_scale", "BF16", new long[] {rows, cols / 32}, (b, r) -> {
            while (b.hasRemaining()) {
                b.putShort((short) (Float.floatToRawIntBits(scale) >>> 16));
            }
        }));
        out.add(new Entry(module + ".weight_shape", "I32", new long[] {2}, (b, r) -> b.putInt(rows).putInt(cols)));
    }

    private static long bytes(Entry e) {
        long n = 1;
        for (long d : e.shape) {
            n *= d;
        }
        return n * (e.dtype.equals("BF16") ? 2 : 4);
    }

    private static void writeSafetensors(Path file, List<Entry> entries) throws IOException {
        long off = 0;
        StringBuilder json = new StringBuilder("{");
        for (Entry e : entries) {
            long n = bytes(e);
            if (json.length() > 1) {
                json.append(',');
            }
            json.append('"').append(e.name).append("\":{\"dtype\":\"").append(e.dtype).append("\",\"shape\":[");
            for (int i = 0; i < e.shape.length; i++) {
                json.append(i > 0 ? "," : "").append(e.shape[i]);
            }
            json.append("],\"data_offsets\":[").append(off).append(',').append(off + n).append("]}");
            off += n;
        }
        json.append('}');
        while ((json.length() + 8) % 8 != 0) {
            json.append(' ');
        }
        byte[] h = json.toString().getBytes(StandardCharsets.US_ASCII);
        SplittableRandom rnd = new SplittableRandom(42);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, h.length));
            ch.write(ByteBuffer.wrap(h));
            for (Entry e : entries) {
                ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(bytes(e))).order(ByteOrder.LITTLE_ENDIAN);
                e.fill.fill(b, rnd);
                b.flip();
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
        }
    }

    private static String config(Shape s) {
        return """
            {"model_type": "deepseek_v3", "vocab_size": %d, "hidden_size": %d, "intermediate_size": %d,
             "moe_intermediate_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d,
             "num_key_value_heads": %d, "q_lora_rank": %d, "kv_lora_rank": %d, "qk_nope_head_dim": %d,
             "qk_rope_head_dim": %d, "v_head_dim": %d, "n_routed_experts": %d, "n_shared_experts": 1,
             "num_experts_per_tok": %d, "first_k_dense_replace": 1, "moe_layer_freq": 1, "n_group": 1,
             "topk_group": 1, "norm_topk_prob": true, "routed_scaling_factor": 2.827, "scoring_func": "sigmoid",
             "topk_method": "noaux_tc", "rms_norm_eps": 1e-5, "rope_theta": 50000.0,
             "rope_scaling": {"type": "yarn", "factor": 64.0, "original_max_position_embeddings": 4096,
                              "beta_fast": 32.0, "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0},
             "max_position_embeddings": 262144, "bos_token_id": 0, "eos_token_id": 1, "tie_word_embeddings": false}
            """.formatted(s.vocab, s.hidden, s.denseInter, s.moeInter, s.layers, s.heads, s.heads, s.qLora, s.kvLora,
                s.nope, s.rope, s.vDim, s.experts, s.topK);
    }
}
