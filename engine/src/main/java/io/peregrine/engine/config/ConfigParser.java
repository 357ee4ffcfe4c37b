package io.peregrine.engine.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads config.json (and the optional generation_config.json beside it) into a {@link ModelConfig}. */
public final class ConfigParser {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ConfigParser() {}

    public static ModelConfig read(Path dir) {
        Path cfg = dir.resolve("config.json");
        JsonNode root = readJson(cfg);
        Path gen = dir.resolve("generation_config.json");
        JsonNode genRoot = Files.exists(gen) ? readJson(gen) : null;
        return parse(cfg.toString(), root, genRoot);
    }

    public static JsonNode readJson(Path p) {
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new ConfigException(p + ": " + e.getMessage(), e);
        }
    }

    public static ModelConfig parse(String file, JsonNode root, JsonNode generationConfig) {
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
        List<Integer> eos = new ArrayList<>();
        addIds(eos, root.get("eos_token_id"));
        addIds(eos, textNode.get("eos_token_id"));
        if (generationConfig != null) {
            addIds(eos, generationConfig.get("eos_token_id"));
        }
        if (eos.isEmpty()) {
            throw new ConfigException(file + ": eos_token_id missing");
        }
        return new ModelConfig(modelType, text, bos, eos, pad, mediaPad);
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

        private ConfigException bad(String key, String why) {
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
