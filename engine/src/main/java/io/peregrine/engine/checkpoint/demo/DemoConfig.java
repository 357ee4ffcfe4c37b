package io.peregrine.engine.checkpoint.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * config.json of a demo checkpoint: the real K2.5 config.json with only the sizes changed, so every key, special
 * token id and the quantization config stay exactly K2.5's. K2.5 keeps quantization_config in text_config only;
 * the demo also puts it at the top level, where transformers' KimiK25Config would copy it.
 */
final class DemoConfig {
    static final String RESOURCES = "/io/peregrine/engine/kimi-k25/";

    private DemoConfig() {}

    static ObjectNode realConfig() {
        try (InputStream in = DemoConfig.class.getResourceAsStream(RESOURCES + "config.json")) {
            if (in == null) {
                throw new IllegalStateException("engine resource " + RESOURCES + "config.json is missing from the class path");
            }
            return (ObjectNode) new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ObjectNode of(DemoPreset p) {
        ObjectNode root = realConfig();
        ObjectNode t = (ObjectNode) root.get("text_config");
        t.put("hidden_size", p.hiddenSize());
        t.put("num_hidden_layers", p.numHiddenLayers());
        t.put("num_attention_heads", p.numAttentionHeads());
        t.put("num_key_value_heads", p.numAttentionHeads());
        t.put("q_lora_rank", p.qLoraRank());
        t.put("kv_lora_rank", p.kvLoraRank());
        t.put("qk_nope_head_dim", p.qkNopeHeadDim());
        t.put("qk_rope_head_dim", p.qkRopeHeadDim());
        t.put("v_head_dim", p.vHeadDim());
        t.put("intermediate_size", p.intermediateSize());
        t.put("moe_intermediate_size", p.moeIntermediateSize());
        t.put("n_routed_experts", p.nRoutedExperts());
        t.put("num_experts_per_tok", p.numExpertsPerTok());
        t.put("n_shared_experts", p.nSharedExperts());
        t.put("first_k_dense_replace", 1);
        t.put("n_group", 1);
        t.put("topk_group", 1);
        ObjectNode v = (ObjectNode) root.get("vision_config");
        v.put("vt_hidden_size", p.vtHiddenSize());
        v.put("vt_num_attention_heads", p.vtNumAttentionHeads());
        v.put("vt_num_hidden_layers", p.vtNumHiddenLayers());
        v.put("vt_intermediate_size", p.vtIntermediateSize());
        v.put("mm_hidden_size", p.vtHiddenSize());
        v.put("text_hidden_size", p.hiddenSize());
        // Insert after text_config's keys are set so the top-level copy is identical.
        root.set("quantization_config", t.get("quantization_config").deepCopy());
        return root;
    }
}
