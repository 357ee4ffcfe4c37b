package io.peregrine.engine.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigParserTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode resource(String name) throws IOException {
        try (InputStream in = ConfigParserTest.class.getResourceAsStream("/io/peregrine/engine/kimi-k25/" + name)) {
            return JSON.readTree(in);
        }
    }

    /** The real K2.5 config.json with the real generation_config.json and preprocessor_config.json beside it. */
    static ModelConfig realK25() throws IOException {
        return ConfigParser.parse("config.json", resource("config.json"), "generation_config.json",
                resource("generation_config.json"),
                ConfigParser.parsePreprocessor("preprocessor_config.json", resource("preprocessor_config.json")));
    }

    @Test
    void realK25Config() throws IOException {
        ModelConfig c = realK25();
        assertEquals("kimi_k25", c.modelType());
        TextConfig t = c.text();
        assertEquals(7168, t.hiddenSize());
        assertEquals(61, t.numHiddenLayers());
        assertEquals(384, t.nRoutedExperts());
        assertEquals(163840, t.vocabSize());
        assertEquals(List.of(163585, 163586), c.eosTokenIds());
        assertEquals(163605, c.mediaPlaceholderTokenId());
        assertEquals(OptionalInt.of(262144), c.generation().maxLength());

        VisionConfig v = c.vision().orElseThrow();
        assertEquals(1152, v.vtHiddenSize());
        assertEquals(72, v.headDim());
        assertEquals(27, v.vtNumHiddenLayers());
        assertEquals(4608, v.projectorInputSize());
        assertEquals(7168, v.textHiddenSize());
        assertEquals(14, v.patchSize());

        // Top level lacks quantization_config: it comes from text_config.
        QuantizationConfig q = c.quantization().orElseThrow();
        assertEquals(new WeightFormat.PackedInt4(32), q.format());
        assertEquals(4, q.ignore().size());
        assertTrue(c.isQuantized("language_model.model.layers.1.mlp.experts.0.gate_proj"));
        assertTrue(c.isQuantized("model.layers.60.mlp.experts.383.down_proj"));
        assertFalse(c.isQuantized("language_model.lm_head"));
        assertFalse(c.isQuantized("language_model.model.layers.5.self_attn.q_a_proj"));
        assertFalse(c.isQuantized("language_model.model.layers.5.mlp.shared_experts.up_proj"));
        assertFalse(c.isQuantized("language_model.model.layers.0.mlp.gate_proj"));
        assertFalse(c.isQuantized("language_model.model.layers.0.mlp.down_proj"));

        PreprocessorConfig p = c.preprocessor();
        assertEquals(16384, p.inPatchLimit());
        assertEquals(4096, p.inPatchLimitEachFrame());
        assertEquals(2.0, p.sampleFps());
        assertEquals(OptionalInt.empty(), p.inPatchLimitVideo());
        assertEquals(PreprocessorConfig.DEFAULTS, p, "the shipped file says exactly the documented defaults");
    }

    @Test
    void goldenTinyConfigFromDirectory() {
        ModelConfig c = ConfigParser.read(TestData.tinyCheckpoint());
        assertEquals(64, c.text().hiddenSize());
        assertEquals(1792, c.bosTokenId());
        assertEquals(List.of(1793), c.eosTokenIds());
        assertEquals(1813, c.mediaPlaceholderTokenId());
        assertEquals(32, c.vision().orElseThrow().vtHiddenSize());
        assertEquals(GenerationConfig.ABSENT, c.generation());
        assertEquals(PreprocessorConfig.DEFAULTS, c.preprocessor());
        assertTrue(c.isQuantized("language_model.model.layers.2.mlp.experts.7.up_proj"));
    }

    /** A Kimi-K2-Thinking-style text-only config: top-level DeepSeek-V3 fields and INT4 quantization. */
    static ObjectNode k2TextOnly() throws IOException {
        ObjectNode text = (ObjectNode) resource("config.json").get("text_config").deepCopy();
        text.put("model_type", "kimi_k2");
        return text;
    }

    @Test
    void textOnlyKimiK2Config() throws IOException {
        ModelConfig c = ConfigParser.parse("config.json", k2TextOnly(), null);
        assertEquals("kimi_k2", c.modelType());
        assertTrue(c.vision().isEmpty());
        assertFalse(c.isMultimodal());
        assertTrue(c.isQuantized("model.layers.1.mlp.experts.3.up_proj"));
        assertFalse(c.isQuantized("lm_head"));
    }

    @Test
    void textOnlyDeepSeekV3Fp8Config() throws IOException {
        ObjectNode root = k2TextOnly();
        root.put("model_type", "deepseek_v3");
        root.putNull("q_lora_rank");
        ObjectNode q = root.putObject("quantization_config");
        q.put("quant_method", "fp8");
        q.put("fmt", "e4m3");
        q.putArray("weight_block_size").add(128).add(128);
        ModelConfig c = ConfigParser.parse("config.json", root, null);
        assertEquals(0, c.text().qLoraRank());
        assertEquals(new WeightFormat.Fp8Block(128, 128), c.quantization().orElseThrow().format());
        assertTrue(c.isQuantized("model.layers.0.self_attn.q_proj"));
        assertFalse(c.isQuantized("lm_head"));
    }

    @Test
    void topLevelQuantizationConfigWinsOverTextConfig() throws IOException {
        ObjectNode root = (ObjectNode) resource("config.json");
        ObjectNode q = (ObjectNode) root.get("text_config").get("quantization_config").deepCopy();
        q.putArray("ignore").add("lm_head").add("re:.*");
        root.set("quantization_config", q);
        ModelConfig c = ConfigParser.parse("config.json", root, null);
        assertFalse(c.isQuantized("language_model.model.layers.1.mlp.experts.0.gate_proj"));
    }

    private static void assertBad(Consumer<ObjectNode> edit, String... fragments) throws IOException {
        ObjectNode root = (ObjectNode) resource("config.json");
        edit.accept(root);
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse("/ck/config.json", root, null));
        assertTrue(e.getMessage().startsWith("/ck/config.json: "), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "'" + e.getMessage() + "' should mention " + f);
        }
    }

    private static ObjectNode text(ObjectNode root) {
        return (ObjectNode) root.get("text_config");
    }

    private static ObjectNode vision(ObjectNode root) {
        return (ObjectNode) root.get("vision_config");
    }

    private static ObjectNode quant(ObjectNode root) {
        return (ObjectNode) text(root).get("quantization_config");
    }

    @Test
    void badConfigsNameTheField() throws IOException {
        assertBad(r -> r.put("model_type", "llama"), "model_type", "llama");
        assertBad(r -> r.remove("text_config"), "text_config");
        assertBad(r -> text(r).remove("hidden_size"), "text_config.hidden_size", "missing");
        assertBad(r -> text(r).put("hidden_size", -3), "text_config.hidden_size", "positive");
        assertBad(r -> text(r).put("num_hidden_layers", "61"), "text_config.num_hidden_layers", "integer");
        assertBad(r -> text(r).put("qk_rope_head_dim", 63), "qk_rope_head_dim", "even");
        assertBad(r -> text(r).put("num_experts_per_tok", 500), "num_experts_per_tok");
        assertBad(r -> text(r).put("rms_norm_eps", "tiny"), "text_config.rms_norm_eps", "number");
        assertBad(r -> r.remove("vision_config"), "vision_config", "missing");
        assertBad(r -> vision(r).remove("vt_hidden_size"), "vision_config.vt_hidden_size", "missing");
        assertBad(r -> vision(r).put("vt_num_attention_heads", 7), "vision_config.vt_num_attention_heads");
        assertBad(r -> vision(r).put("text_hidden_size", 4096), "vision_config.text_hidden_size", "7168");
        assertBad(r -> vision(r).putArray("merge_kernel_size").add(2), "vision_config.merge_kernel_size");
        assertBad(r -> vision(r).put("mm_projector_type", "mlp"), "vision_config.mm_projector_type");
        assertBad(r -> quant(r).put("quant_method", "awq"), "text_config.quantization_config.quant_method", "awq");
        assertBad(r -> quant(r).put("format", "int-quantized"), "text_config.quantization_config.format");
        assertBad(r -> ((ObjectNode) quant(r).get("config_groups").get("group_0").get("weights")).put("group_size", 128),
                "text_config.quantization_config.config_groups.group_0.weights.group_size", "32");
        assertBad(r -> ((ObjectNode) quant(r).get("config_groups").get("group_0").get("weights")).put("symmetric", false),
                "weights.symmetric");
        assertBad(r -> quant(r).putArray("ignore").add("re:(unclosed"), "quantization_config.ignore[0]", "(unclosed");
        assertBad(r -> quant(r).put("ignore", "lm_head"), "quantization_config.ignore");
        assertBad(r -> r.put("media_placeholder_token_id", 200000), "media_placeholder_token_id", "163840");
        assertBad(r -> {
            r.remove("eos_token_id");
            text(r).remove("eos_token_id");
        }, "eos_token_id");
    }

    @Test
    void badOptionalFilesNameTheirFile(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), resource("config.json").toString());
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": \"im_end\"}");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.read(dir));
        assertTrue(e.getMessage().contains("generation_config.json") && e.getMessage().contains("eos_token_id"), e.getMessage());

        Files.delete(dir.resolve("generation_config.json"));
        Files.writeString(dir.resolve("preprocessor_config.json"), "{\"media_proc_cfg\": {\"image_std\": [0.5, 0.0, 0.5]}}");
        e = assertThrows(ConfigException.class, () -> ConfigParser.read(dir));
        assertTrue(e.getMessage().contains("preprocessor_config.json") && e.getMessage().contains("media_proc_cfg.image_std"),
                e.getMessage());

        Files.writeString(dir.resolve("preprocessor_config.json"), "{\"media_proc_cfg\": {\"in_patch_limit\": 1024}}");
        PreprocessorConfig p = ConfigParser.read(dir).preprocessor();
        assertEquals(1024, p.inPatchLimit());
        assertEquals(512, p.patchLimitOnOneSide(), "absent keys take the documented defaults");

        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"kimi_k25\", ");
        e = assertThrows(ConfigException.class, () -> ConfigParser.read(dir));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());

        Files.delete(dir.resolve("config.json"));
        e = assertThrows(ConfigException.class, () -> ConfigParser.read(dir));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("missing"), e.getMessage());
    }
}
