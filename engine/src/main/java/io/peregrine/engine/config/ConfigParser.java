package io.peregrine.engine.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * Reads config.json and the optional generation_config.json and preprocessor_config.json beside it into a
 * {@link ModelConfig}. Every error names the file and the field.
 */
public final class ConfigParser {
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final String GENERATION_CONFIG = "generation_config.json";
    public static final String PREPROCESSOR_CONFIG = "preprocessor_config.json";

    private ConfigParser() {}

    public static ModelConfig read(Path dir) {
        Path cfg = dir.resolve("config.json");
        if (!Files.isRegularFile(cfg)) {
            throw new ConfigException(cfg + ": missing (every checkpoint directory needs config.json)");
        }
        JsonNode root = readJson(cfg);
        Path gen = dir.resolve(GENERATION_CONFIG);
        JsonNode genRoot = Files.exists(gen) ? readJson(gen) : null;
        Path pre = dir.resolve(PREPROCESSOR_CONFIG);
        PreprocessorConfig preprocessor = Files.exists(pre)
                ? parsePreprocessor(pre.toString(), readJson(pre)) : PreprocessorConfig.DEFAULTS;
        return parse(cfg.toString(), root, gen.toString(), genRoot, preprocessor);
    }

    public static JsonNode readJson(Path p) {
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new ConfigException(p + ": " + e.getMessage(), e);
        }
    }

    public static ModelConfig parse(String file, JsonNode root, JsonNode generationConfig) {
        return parse(file, root, GENERATION_CONFIG, generationConfig, PreprocessorConfig.DEFAULTS);
    }

    /**
     * @param generationFile   named in errors about {@code generationConfig}
     * @param generationConfig generation_config.json's content, or null when the file is absent
     */
    public static ModelConfig parse(String file, JsonNode root, String generationFile, JsonNode generationConfig,
                                    PreprocessorConfig preprocessor) {
        if (root == null || !root.isObject()) {
            throw new ConfigException(file + ": not a JSON object");
        }
        String modelType = new Fields(file, "", root).str("model_type");
        JsonNode textNode;
        String textPrefix;
        int mediaPad = -1;
        switch (modelType) {
            case "kimi_k25", "kimi_k2_5", "kimi_vl" -> {
                textNode = root.get("text_config");
                if (textNode == null || !textNode.isObject()) {
                    throw new ConfigException(file + ": text_config missing for model_type " + modelType);
                }
                textPrefix = "text_config.";
                mediaPad = new Fields(file, "", root).intOr("media_placeholder_token_id", -1);
            }
            case "deepseek_v3", "kimi_k2" -> {
                textNode = root;
                textPrefix = "";
            }
            default -> throw new ConfigException(file + ": model_type '" + modelType
                    + "' is not supported (expected kimi_k25, kimi_k2 or deepseek_v3)");
        }
        TextConfig text = parseText(new Fields(file, textPrefix, textNode));
        Fields top = new Fields(file, "", root);
        int bos = top.intOr("bos_token_id", text.bosTokenId());
        int pad = top.intOr("pad_token_id", text.padTokenId());
        GenerationConfig generation = generationConfig == null ? GenerationConfig.ABSENT
                : parseGeneration(new Fields(generationFile, "", generationConfig));
        List<Integer> eos = new ArrayList<>();
        addIds(eos, root.get("eos_token_id"));
        addIds(eos, textNode.get("eos_token_id"));
        for (int id : generation.eosTokenIds()) {
            if (!eos.contains(id)) {
                eos.add(id);
            }
        }
        if (eos.isEmpty()) {
            throw new ConfigException(file + ": field eos_token_id is missing");
        }
        checkTokenId(file, "bos_token_id", bos, text.vocabSize());
        checkTokenId(file, "pad_token_id", pad, text.vocabSize());
        checkTokenId(file, "media_placeholder_token_id", mediaPad, text.vocabSize());
        for (int id : eos) {
            checkTokenId(file, "eos_token_id", id, text.vocabSize());
        }
        Optional<VisionConfig> vision = Optional.empty();
        if (textNode != root) {
            JsonNode v = root.get("vision_config");
            if (v == null || !v.isObject()) {
                throw new ConfigException(file + ": field vision_config is missing for model_type " + modelType);
            }
            vision = Optional.of(parseVision(new Fields(file, "vision_config.", v), text));
        }
        // K2.5 keeps quantization_config in text_config; KimiK25Config copies it to the top level at load time.
        Optional<QuantizationConfig> quant = Optional.empty();
        if (root.hasNonNull("quantization_config")) {
            quant = Optional.of(parseQuantization(new Fields(file, "quantization_config.", root.get("quantization_config"))));
        } else if (textNode.hasNonNull("quantization_config")) {
            quant = Optional.of(parseQuantization(new Fields(file, textPrefix + "quantization_config.",
                    textNode.get("quantization_config"))));
        }
        return new ModelConfig(modelType, text, bos, eos, pad, mediaPad, vision, quant, generation, preprocessor);
    }

    private static void checkTokenId(String file, String field, int id, int vocab) {
        if (id >= vocab || id < -1) {
            throw new ConfigException(file + ": field " + field + " " + id + " is outside the vocabulary of " + vocab);
        }
    }

    static GenerationConfig parseGeneration(Fields f) {
        if (!f.node.isObject()) {
            throw new ConfigException(f.file + ": not a JSON object");
        }
        List<Integer> eos = new ArrayList<>();
        JsonNode e = f.node.get("eos_token_id");
        if (e != null && !e.isNull()) {
            if (!(e.isIntegralNumber() || e.isArray())) {
                throw new ConfigException(f.file + ": field eos_token_id must be an id or a list of ids, got " + e);
            }
            addIds(eos, e);
        }
        return new GenerationConfig(eos,
                f.node.hasNonNull("max_length") ? OptionalInt.of(f.positive("max_length")) : OptionalInt.empty(),
                f.node.hasNonNull("temperature") ? OptionalDouble.of(f.dbl("temperature")) : OptionalDouble.empty(),
                f.node.hasNonNull("top_p") ? OptionalDouble.of(f.dbl("top_p")) : OptionalDouble.empty(),
                f.node.hasNonNull("top_k") ? OptionalInt.of(f.integer("top_k")) : OptionalInt.empty());
    }

    /** preprocessor_config.json: the {@code media_proc_cfg} object, or the top level when a file has no wrapper. */
    public static PreprocessorConfig parsePreprocessor(String file, JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new ConfigException(file + ": not a JSON object");
        }
        JsonNode node = root.has("media_proc_cfg") ? root.get("media_proc_cfg") : root;
        String prefix = root.has("media_proc_cfg") ? "media_proc_cfg." : "";
        if (!node.isObject()) {
            throw new ConfigException(file + ": field media_proc_cfg must be an object");
        }
        Fields f = new Fields(file, prefix, node);
        PreprocessorConfig d = PreprocessorConfig.DEFAULTS;
        PreprocessorConfig p = new PreprocessorConfig(
                f.positiveOr("patch_size", d.patchSize()),
                f.positiveOr("merge_kernel_size", d.mergeKernelSize()),
                f.positiveOr("in_patch_limit", d.inPatchLimit()),
                f.positiveOr("patch_limit_on_one_side", d.patchLimitOnOneSide()),
                f.optionalPositive("fixed_output_tokens"),
                f.doubles("image_mean", 3, d.imageMean()),
                f.doubles("image_std", 3, d.imageStd()),
                f.positiveOr("in_patch_limit_each_frame", d.inPatchLimitEachFrame()),
                f.optionalPositive("in_patch_limit_video"),
                f.dblOr("sample_fps", d.sampleFps()),
                f.optionalPositive("max_num_frames_each_video"),
                f.positiveOr("temporal_merge_kernel_size", d.temporalMergeKernelSize()),
                f.strOr("timestamp_mode", d.timestampMode()));
        if (!(p.sampleFps() > 0)) {
            throw new ConfigException(file + ": field " + prefix + "sample_fps must be positive, got " + p.sampleFps());
        }
        for (double s : p.imageStd()) {
            if (!(s > 0)) {
                throw new ConfigException(file + ": field " + prefix + "image_std must be positive, got " + p.imageStd());
            }
        }
        return p;
    }

    static VisionConfig parseVision(Fields f, TextConfig text) {
        int[] merge = f.ints("merge_kernel_size", 2);
        int vtHidden = f.positive("vt_hidden_size");
        VisionConfig v = new VisionConfig(
                f.positive("patch_size"),
                f.positive("init_pos_emb_height"),
                f.positive("init_pos_emb_width"),
                f.positiveOr("init_pos_emb_time", 4),
                f.strOr("pos_emb_type", "divided_fixed"),
                vtHidden,
                f.positive("vt_intermediate_size"),
                f.positive("vt_num_attention_heads"),
                f.positive("vt_num_hidden_layers"),
                merge[0],
                merge[1],
                f.strOr("merge_type", "sd2_tpool"),
                f.strOr("video_attn_type", "spatial_temporal"),
                f.strOr("mm_projector_type", "patchmerger"),
                f.positiveOr("mm_hidden_size", vtHidden),
                f.positiveOr("text_hidden_size", text.hiddenSize()),
                f.strOr("projector_hidden_act", "gelu"),
                f.dblOr("projector_ln_eps", 1e-5));
        if (v.vtHiddenSize() % v.vtNumAttentionHeads() != 0) {
            throw f.bad("vt_num_attention_heads", v.vtNumAttentionHeads() + " does not divide vt_hidden_size "
                    + v.vtHiddenSize());
        }
        if (v.headDim() % 4 != 0) {
            // The 2-D RoPE rotates (x, y) pairs of complex pairs: a head needs a multiple of 4 values.
            throw f.bad("vt_num_attention_heads", "gives head_dim " + v.headDim() + ", which is not a multiple of 4");
        }
        if (v.mmHiddenSize() != v.vtHiddenSize()) {
            throw f.bad("mm_hidden_size", v.mmHiddenSize() + " differs from vt_hidden_size " + v.vtHiddenSize()
                    + " (the projector normalises tower outputs)");
        }
        if (v.textHiddenSize() != text.hiddenSize()) {
            throw f.bad("text_hidden_size", v.textHiddenSize() + " differs from the text hidden_size " + text.hiddenSize());
        }
        if (!v.mmProjectorType().equals("patchmerger")) {
            throw f.bad("mm_projector_type", "'" + v.mmProjectorType() + "' is not supported (expected patchmerger)");
        }
        return v;
    }

    static QuantizationConfig parseQuantization(Fields f) {
        if (!f.node.isObject()) {
            throw new ConfigException(f.file + ": field " + f.prefix.substring(0, f.prefix.length() - 1)
                    + " must be an object");
        }
        String method = f.str("quant_method");
        List<IgnoreRule> ignore = new ArrayList<>();
        JsonNode ig = f.node.get("ignore");
        if (ig != null && !ig.isNull()) {
            if (!ig.isArray()) {
                throw f.bad("ignore", "must be a list of module names, got " + ig);
            }
            for (int i = 0; i < ig.size(); i++) {
                if (!ig.get(i).isTextual()) {
                    throw f.bad("ignore[" + i + "]", "must be a string, got " + ig.get(i));
                }
                try {
                    ignore.add(IgnoreRule.parse(ig.get(i).asText()));
                } catch (IllegalArgumentException e) {
                    throw f.bad("ignore[" + i + "]", "is a " + e.getMessage());
                }
            }
        }
        return switch (method) {
            case "compressed-tensors" -> parseCompressedTensors(f, ignore);
            case "fp8" -> {
                int[] block = f.ints("weight_block_size", 2);
                // DeepSeek-V3 / Kimi-K2 leave lm_head in bf16 without listing it.
                if (ignore.stream().noneMatch(r -> r.matches("lm_head"))) {
                    ignore.add(new IgnoreRule.Exact("lm_head"));
                }
                yield new QuantizationConfig(method, new WeightFormat.Fp8Block(block[0], block[1]), List.of("Linear"), ignore);
            }
            default -> throw f.bad("quant_method", "'" + method + "' is not supported (expected compressed-tensors or fp8)");
        };
    }

    private static QuantizationConfig parseCompressedTensors(Fields f, List<IgnoreRule> ignore) {
        String format = f.str("format");
        if (!format.equals("pack-quantized")) {
            throw f.bad("format", "'" + format + "' is not supported (expected pack-quantized)");
        }
        JsonNode groups = f.node.get("config_groups");
        if (groups == null || !groups.isObject() || groups.size() != 1) {
            throw f.bad("config_groups", "must hold exactly one group, got " + groups);
        }
        String groupName = groups.fieldNames().next();
        JsonNode group = groups.get(groupName);
        Fields g = new Fields(f.file, f.prefix + "config_groups." + groupName + ".", group);
        List<String> targets = new ArrayList<>();
        JsonNode t = group.get("targets");
        if (t == null || !t.isArray() || t.isEmpty()) {
            throw g.bad("targets", "must be a non-empty list, got " + t);
        }
        t.forEach(x -> targets.add(x.asText()));
        if (!targets.equals(List.of("Linear"))) {
            throw g.bad("targets", targets + " is not supported (expected [\"Linear\"])");
        }
        JsonNode w = group.get("weights");
        if (w == null || !w.isObject()) {
            throw g.bad("weights", "is missing");
        }
        Fields wf = new Fields(f.file, g.prefix + "weights.", w);
        if (wf.integer("num_bits") != 4) {
            throw wf.bad("num_bits", "must be 4, got " + wf.integer("num_bits"));
        }
        if (!wf.strOr("type", "int").equals("int")) {
            throw wf.bad("type", "must be int, got " + w.get("type"));
        }
        if (!wf.boolOr("symmetric", false)) {
            throw wf.bad("symmetric", "must be true (asymmetric INT4 needs zero points, which are not supported)");
        }
        if (!wf.str("strategy").equals("group")) {
            throw wf.bad("strategy", "must be group, got " + w.get("strategy"));
        }
        int groupSize = wf.positive("group_size");
        if (groupSize != 32) {
            throw wf.bad("group_size", "must be 32, got " + groupSize);
        }
        if (w.hasNonNull("actorder")) {
            throw wf.bad("actorder", "must be null (activation reordering is not supported), got " + w.get("actorder"));
        }
        JsonNode in = group.get("input_activations");
        if (in != null && !in.isNull()) {
            throw g.bad("input_activations", "must be null (weight-only W4A16), got " + in);
        }
        return new QuantizationConfig("compressed-tensors", new WeightFormat.PackedInt4(groupSize), targets, ignore);
    }

    private static void addIds(List<Integer> out, JsonNode n) {
        if (n == null || n.isNull()) {
            return;
        }
        if (n.isArray()) {
            n.forEach(x -> addIds(out, x));
        } else if (n.isIntegralNumber() && !out.contains(n.asInt())) {
            out.add(n.asInt());
        }
    }

    static TextConfig parseText(Fields f) {
        RopeScaling rope = RopeScaling.NONE;
        JsonNode rs = f.node.get("rope_scaling");
        if (rs != null && !rs.isNull()) {
            Fields r = new Fields(f.file, f.prefix + "rope_scaling.", rs);
            String type = rs.has("type") ? r.str("type") : r.str("rope_type");
            rope = new RopeScaling(type, r.dbl("factor"), r.intOr("original_max_position_embeddings", 4096),
                    r.dblOr("beta_fast", 32.0), r.dblOr("beta_slow", 1.0), r.dblOr("mscale", 1.0),
                    r.dblOr("mscale_all_dim", 0.0));
        }
        int experts = f.intOr("n_routed_experts", 0);
        TextConfig t = new TextConfig(
                f.positive("vocab_size"),
                f.positive("hidden_size"),
                f.positive("intermediate_size"),
                experts > 0 ? f.positive("moe_intermediate_size") : f.intOr("moe_intermediate_size", 0),
                f.positive("num_hidden_layers"),
                f.positive("num_attention_heads"),
                f.intOr("q_lora_rank", 0),
                f.positive("kv_lora_rank"),
                f.positive("qk_nope_head_dim"),
                f.positive("qk_rope_head_dim"),
                f.positive("v_head_dim"),
                experts,
                f.intOr("n_shared_experts", 0),
                experts > 0 ? f.positive("num_experts_per_tok") : 0,
                f.intOr("first_k_dense_replace", 0),
                Math.max(1, f.intOr("moe_layer_freq", 1)),
                Math.max(1, f.intOr("n_group", 1)),
                Math.max(1, f.intOr("topk_group", 1)),
                f.boolOr("norm_topk_prob", true),
                f.dblOr("routed_scaling_factor", 1.0),
                f.strOr("scoring_func", "softmax"),
                f.strOr("topk_method", "greedy"),
                f.dbl("rms_norm_eps"),
                f.dblOr("rope_theta", 10000.0),
                rope,
                f.positive("max_position_embeddings"),
                f.intOr("bos_token_id", -1),
                f.node.has("eos_token_id") && f.node.get("eos_token_id").isIntegralNumber() ? f.node.get("eos_token_id").asInt() : -1,
                f.intOr("pad_token_id", -1),
                f.boolOr("tie_word_embeddings", false));
        if (t.qkRopeHeadDim() % 2 != 0) {
            throw new ConfigException(f.file + ": " + f.prefix + "qk_rope_head_dim must be even, got " + t.qkRopeHeadDim());
        }
        if (experts > 0 && t.numExpertsPerTok() > experts) {
            throw new ConfigException(f.file + ": " + f.prefix + "num_experts_per_tok " + t.numExpertsPerTok()
                    + " exceeds n_routed_experts " + experts);
        }
        if (experts > 0 && (experts % t.nGroup() != 0 || t.topkGroup() > t.nGroup())) {
            throw new ConfigException(f.file + ": " + f.prefix + "n_group " + t.nGroup() + " / topk_group "
                    + t.topkGroup() + " do not divide " + experts + " experts");
        }
        return t;
    }

    /** Typed access to one JSON object that names the file and field in every error. */
    static final class Fields {
        final String file;
        final String prefix;
        final JsonNode node;

        Fields(String file, String prefix, JsonNode node) {
            this.file = file;
            this.prefix = prefix;
            this.node = node;
        }

        ConfigException bad(String key, String why) {
            return new ConfigException(file + ": field " + prefix + key + " " + why);
        }

        private JsonNode req(String key) {
            JsonNode v = node.get(key);
            if (v == null || v.isNull()) {
                throw bad(key, "is missing");
            }
            return v;
        }

        String str(String key) {
            JsonNode v = req(key);
            if (!v.isTextual()) {
                throw bad(key, "must be a string, got " + v);
            }
            return v.asText();
        }

        String strOr(String key, String dflt) {
            return node.hasNonNull(key) ? str(key) : dflt;
        }

        int integer(String key) {
            JsonNode v = req(key);
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw bad(key, "must be an integer, got " + v);
            }
            return v.asInt();
        }

        int positive(String key) {
            int v = integer(key);
            if (v <= 0) {
                throw bad(key, "must be positive, got " + v);
            }
            return v;
        }

        int intOr(String key, int dflt) {
            return node.hasNonNull(key) ? integer(key) : dflt;
        }

        double dbl(String key) {
            JsonNode v = req(key);
            if (!v.isNumber()) {
                throw bad(key, "must be a number, got " + v);
            }
            return v.asDouble();
        }

        double dblOr(String key, double dflt) {
            return node.hasNonNull(key) ? dbl(key) : dflt;
        }

        int positiveOr(String key, int dflt) {
            return node.hasNonNull(key) ? positive(key) : dflt;
        }

        OptionalInt optionalPositive(String key) {
            return node.hasNonNull(key) ? OptionalInt.of(positive(key)) : OptionalInt.empty();
        }

        /** A list of exactly {@code n} positive integers. */
        int[] ints(String key, int n) {
            JsonNode v = req(key);
            if (!v.isArray() || v.size() != n) {
                throw bad(key, "must be a list of " + n + " integers, got " + v);
            }
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                JsonNode x = v.get(i);
                if (!x.isIntegralNumber() || !x.canConvertToInt() || x.asInt() <= 0) {
                    throw bad(key, "must be a list of " + n + " positive integers, got " + v);
                }
                out[i] = x.asInt();
            }
            return out;
        }

        List<Double> doubles(String key, int n, List<Double> dflt) {
            if (!node.hasNonNull(key)) {
                return dflt;
            }
            JsonNode v = node.get(key);
            if (!v.isArray() || v.size() != n) {
                throw bad(key, "must be a list of " + n + " numbers, got " + v);
            }
            List<Double> out = new ArrayList<>();
            for (JsonNode x : v) {
                if (!x.isNumber()) {
                    throw bad(key, "must be a list of " + n + " numbers, got " + v);
                }
                out.add(x.asDouble());
            }
            return out;
        }

        boolean boolOr(String key, boolean dflt) {
            if (!node.hasNonNull(key)) {
                return dflt;
            }
            JsonNode v = node.get(key);
            if (!v.isBoolean()) {
                throw bad(key, "must be true or false, got " + v);
            }
            return v.asBoolean();
        }
    }
}
