package io.peregrine.engine.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peregrine.engine.config.ConfigParser;
import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class CheckpointLayoutTest {
    static ModelConfig realK25() throws IOException {
        try (InputStream in = CheckpointLayoutTest.class.getResourceAsStream("/io/peregrine/engine/kimi-k25/config.json")) {
            return ConfigParser.parse("config.json", new ObjectMapper().readTree(in), null);
        }
    }

    private static String manifestDtype(String torchName) {
        return switch (torchName) {
            case "bfloat16" -> "BF16";
            case "float32" -> "F32";
            case "int32" -> "I32";
            default -> throw new AssertionError("unexpected manifest dtype " + torchName);
        };
    }

    @Test
    void layoutOfTheGoldenConfigIsExactlyTheGoldenManifest() throws IOException {
        JsonNode manifest = new ObjectMapper().readTree(TestData.golden("tiny-k25.manifest.json").toFile());
        Map<String, String> want = new TreeMap<>();
        for (JsonNode t : manifest.get("tensors")) {
            want.put(t.get("name").asText(), manifestDtype(t.get("dtype").asText()) + t.get("shape").toString().replace(",", ", "));
        }
        Map<String, String> got = new TreeMap<>();
        for (TensorSpec s : CheckpointLayout.of(ConfigParser.read(TestData.tinyCheckpoint()))) {
            got.put(s.name(), s.dtype() + Arrays.toString(s.shape()));
        }
        assertEquals(222, manifest.get("n_tensors").asInt());
        assertEquals(want, got);
    }

    /** The real checkpoint has 208,550 tensors (spec §2); every one of them follows from config.json. */
    @Test
    void layoutOfTheRealConfigHasEveryTensorOfTheRealCheckpoint() throws IOException {
        ModelConfig c = realK25();
        List<TensorSpec> layout = CheckpointLayout.of(c);
        assertEquals(208_550, layout.size());
        Map<String, TensorSpec> byName = new TreeMap<>();
        layout.forEach(s -> byName.put(s.name(), s));
        assertEquals(layout.size(), byName.size(), "names are unique");
        String e = "language_model.model.layers.7.mlp.experts.200.";
        assertEquals("I32[2048, 896]", str(byName.get(e + "gate_proj.weight_packed")));
        assertEquals("BF16[2048, 224]", str(byName.get(e + "gate_proj.weight_scale")));
        assertEquals("I32[2]", str(byName.get(e + "gate_proj.weight_shape")));
        assertEquals("I32[7168, 256]", str(byName.get(e + "down_proj.weight_packed")));
        assertEquals("BF16[7168, 64]", str(byName.get(e + "down_proj.weight_scale")));
        String l = "language_model.model.layers.7.";
        assertEquals("BF16[12288, 1536]", str(byName.get(l + "self_attn.q_b_proj.weight")));
        assertEquals("BF16[576, 7168]", str(byName.get(l + "self_attn.kv_a_proj_with_mqa.weight")));
        assertEquals("BF16[16384, 512]", str(byName.get(l + "self_attn.kv_b_proj.weight")));
        assertEquals("BF16[7168, 8192]", str(byName.get(l + "self_attn.o_proj.weight")));
        assertEquals("F32[384]", str(byName.get(l + "mlp.gate.e_score_correction_bias")));
        assertEquals("BF16[2048, 7168]", str(byName.get(l + "mlp.shared_experts.gate_proj.weight")));
        assertEquals("BF16[18432, 7168]", str(byName.get("language_model.model.layers.0.mlp.gate_proj.weight")));
        assertEquals("BF16[163840, 7168]", str(byName.get("language_model.lm_head.weight")));
        assertEquals("BF16[64, 64, 1152]", str(byName.get("vision_tower.patch_embed.pos_emb.weight")));
        assertEquals("BF16[3456, 1152]", str(byName.get("vision_tower.encoder.blocks.26.wqkv.weight")));
        assertEquals("BF16[4608, 4608]", str(byName.get("mm_projector.proj.0.weight")));
        assertEquals("BF16[7168, 4608]", str(byName.get("mm_projector.proj.2.weight")));
    }

    private static String str(TensorSpec s) {
        return s.dtype() + Arrays.toString(s.shape());
    }

    private static ObjectNode textOnly() throws IOException {
        try (InputStream in = CheckpointLayoutTest.class.getResourceAsStream("/io/peregrine/engine/kimi-k25/config.json")) {
            ObjectNode t = (ObjectNode) new ObjectMapper().readTree(in).get("text_config");
            t.put("model_type", "kimi_k2");
            return t;
        }
    }

    /** Kimi-K2-Thinking style: the same INT4 experts, bare tensor names, no vision part. */
    @Test
    void textOnlyK2Layout() throws IOException {
        List<TensorSpec> layout = CheckpointLayout.of(ConfigParser.parse("config.json", textOnly(), null));
        assertEquals(208_550 - 335, layout.size());
        Map<String, String> byName = new TreeMap<>();
        layout.forEach(s -> byName.put(s.name(), str(s)));
        assertEquals("BF16[163840, 7168]", byName.get("lm_head.weight"));
        assertEquals("I32[2048, 896]", byName.get("model.layers.60.mlp.experts.383.up_proj.weight_packed"));
        assertTrue(byName.keySet().stream().noneMatch(n -> n.startsWith("language_model.") || n.startsWith("vision_tower.")));
    }

    /** DeepSeek-V3 / Kimi-K2-Instruct style: block FP8 for every Linear but lm_head; no q LoRA when q_lora_rank is null. */
    @Test
    void fp8BlockLayout() throws IOException {
        ObjectNode root = textOnly();
        root.put("model_type", "deepseek_v3");
        root.putNull("q_lora_rank");
        ObjectNode q = root.putObject("quantization_config");
        q.put("quant_method", "fp8");
        q.putArray("weight_block_size").add(128).add(128);
        Map<String, String> byName = new TreeMap<>();
        CheckpointLayout.of(ConfigParser.parse("config.json", root, null)).forEach(s -> byName.put(s.name(), str(s)));
        assertEquals("F8_E4M3[12288, 7168]", byName.get("model.layers.3.self_attn.q_proj.weight"));
        assertEquals("F32[96, 56]", byName.get("model.layers.3.self_attn.q_proj.weight_scale_inv"));
        assertEquals("F32[5, 56]", byName.get("model.layers.3.self_attn.kv_a_proj_with_mqa.weight_scale_inv"));
        assertEquals("F8_E4M3[2048, 7168]", byName.get("model.layers.3.mlp.experts.5.gate_proj.weight"));
        assertEquals("BF16[384, 7168]", byName.get("model.layers.3.mlp.gate.weight"));
        assertEquals("BF16[163840, 7168]", byName.get("lm_head.weight"));
        assertTrue(!byName.containsKey("model.layers.3.self_attn.q_a_proj.weight"));
    }
}
