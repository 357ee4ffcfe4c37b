package io.peregrine.engine.vision;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a checkpoint folder with random BF16 vision weights of any width (the text part is the tiny model's
 * config only, no text tensors): lets the benchmark run a real-width MoonViT without the 550 GB checkpoint.
 */
public final class SyntheticVisionCheckpoint {
    private SyntheticVisionCheckpoint() {}

    public static Path write(Path dir, int hidden, int heads, int layers, int intermediate, int textHidden)
            throws IOException {
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper();
        ObjectNode cfg = (ObjectNode) json.readTree(TestData.tinyCheckpoint().resolve("config.json").toFile());
        ObjectNode v = (ObjectNode) cfg.get("vision_config");
        v.put("vt_hidden_size", hidden).put("vt_num_attention_heads", heads).put("vt_num_hidden_layers", layers)
                .put("vt_intermediate_size", intermediate).put("mm_hidden_size", hidden).put("text_hidden_size", textHidden);
        Files.writeString(dir.resolve("config.json"), json.writeValueAsString(cfg));

        int d = hidden;
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("vision_tower.patch_embed.proj.weight", new long[] {d, 3, 14, 14});
        shapes.put("vision_tower.patch_embed.proj.bias", new long[] {d});
        shapes.put("vision_tower.patch_embed.pos_emb.weight", new long[] {64, 64, d});
        for (int i = 0; i < layers; i++) {
            String p = "vision_tower.encoder.blocks." + i + ".";
            for (String n : new String[] {"norm0", "norm1"}) {
                shapes.put(p + n + ".weight", new long[] {d});
                shapes.put(p + n + ".bias", new long[] {d});
            }
            shapes.put(p + "wqkv.weight", new long[] {3L * d, d});
            shapes.put(p + "wqkv.bias", new long[] {3L * d});
            shapes.put(p + "wo.weight", new long[] {d, d});
            shapes.put(p + "wo.bias", new long[] {d});
            shapes.put(p + "mlp.fc0.weight", new long[] {intermediate, d});
            shapes.put(p + "mlp.fc0.bias", new long[] {intermediate});
            shapes.put(p + "mlp.fc1.weight", new long[] {d, intermediate});
            shapes.put(p + "mlp.fc1.bias", new long[] {d});
        }
        shapes.put("vision_tower.encoder.final_layernorm.weight", new long[] {d});
        shapes.put("vision_tower.encoder.final_layernorm.bias", new long[] {d});
        shapes.put("mm_projector.pre_norm.weight", new long[] {d});
        shapes.put("mm_projector.pre_norm.bias", new long[] {d});
        shapes.put("mm_projector.proj.0.weight", new long[] {4L * d, 4L * d});
        shapes.put("mm_projector.proj.0.bias", new long[] {4L * d});
        shapes.put("mm_projector.proj.2.weight", new long[] {textHidden, 4L * d});
        shapes.put("mm_projector.proj.2.bias", new long[] {textHidden});

        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        for (var e : shapes.entrySet()) {
            long n = numel(e.getValue());
            if (header.length() > 1) {
                header.append(',');
            }
            header.append('"').append(e.getKey()).append("\":{\"dtype\":\"BF16\",\"shape\":")
                    .append(java.util.Arrays.toString(e.getValue()).replace(" ", ""))
                    .append(",\"data_offsets\":[").append(offset).append(',').append(offset + 2 * n).append("]}");
            offset += 2 * n;
        }
        header.append('}');
        while ((header.length() + 8) % 8 != 0) {
            header.append(' ');
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        SplittableRandom rnd = new SplittableRandom(1234);
        try (FileChannel ch = FileChannel.open(dir.resolve("model.safetensors"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, h.length);
            ch.write(len);
            ch.write(ByteBuffer.wrap(h));
            for (var e : shapes.entrySet()) {
                long[] s = e.getValue();
                long n = numel(s);
                boolean gain = e.getKey().endsWith("norm0.weight") || e.getKey().endsWith("norm1.weight")
                        || e.getKey().endsWith("layernorm.weight") || e.getKey().endsWith("pre_norm.weight");
                double scale = s.length >= 2 ? Math.sqrt(3.0 / (numel(s) / s[0])) : 0.1;
                ByteBuffer buf = ByteBuffer.allocate((int) (2 * n)).order(ByteOrder.LITTLE_ENDIAN);
                for (long i = 0; i < n; i++) {
                    float x = gain ? 1f + (float) (rnd.nextDouble() * 0.2 - 0.1) : (float) ((rnd.nextDouble() * 2 - 1) * scale);
                    buf.putShort((short) (Float.floatToRawIntBits(x) >>> 16));
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            }
        }
        return dir;
    }

    private static long numel(long[] s) {
        long n = 1;
        for (long x : s) {
            n *= x;
        }
        return n;
    }
}
