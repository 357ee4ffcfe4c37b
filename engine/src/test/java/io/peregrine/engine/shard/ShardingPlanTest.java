package io.peregrine.engine.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.CheckpointLayout;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.checkpoint.TensorSpec;
import io.peregrine.engine.config.ConfigParser;
import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The per-tensor sharding rules on the real K2.5 config and on the golden tiny checkpoint. */
class ShardingPlanTest {
    static final String L7 = "language_model.model.layers.7.";

    static ModelConfig tiny() {
        return ConfigParser.read(TestData.tinyCheckpoint());
    }

    @Test
    void k25AtTp8SplitsHeadsExpertsAndVocabulary() {
        ShardingPlan p = new ShardingPlan(RealK25.CONFIG, 8, false);
        Map<String, TensorSpec> t = RealK25.BY_NAME;
        assertEquals(8, p.headsPerRank());
        // 8 heads of 192 (q) and 256 (k_nope + v) rows; o_proj takes those heads' 8 * 128 input columns.
        assertArrayEquals(new long[] {1536, 1536}, p.shapeOnRank(t.get(L7 + "self_attn.q_b_proj.weight"), 3));
        assertArrayEquals(new long[] {2048, 512}, p.shapeOnRank(t.get(L7 + "self_attn.kv_b_proj.weight"), 3));
        assertArrayEquals(new long[] {7168, 1024}, p.shapeOnRank(t.get(L7 + "self_attn.o_proj.weight"), 3));
        assertEquals(new Placement.Split(1, 8), p.rule(L7 + "self_attn.o_proj.weight").placement());
        for (String replicated : List.of("self_attn.q_a_proj.weight", "self_attn.q_a_layernorm.weight",
                "self_attn.kv_a_proj_with_mqa.weight", "self_attn.kv_a_layernorm.weight", "mlp.gate.weight",
                "mlp.gate.e_score_correction_bias", "input_layernorm.weight")) {
            assertEquals(Placement.REPLICATED, p.rule(L7 + replicated).placement(), replicated);
            assertArrayEquals(t.get(L7 + replicated).shape(), p.shapeOnRank(t.get(L7 + replicated), 5), replicated);
        }
        // Routed experts under TP: 2048 / 8 = 256 intermediate per rank, whole INT4 groups of 32 (8 per row).
        String e = L7 + "mlp.experts.200.";
        assertArrayEquals(new long[] {256, 896}, p.shapeOnRank(t.get(e + "gate_proj.weight_packed"), 0));
        assertArrayEquals(new long[] {256, 224}, p.shapeOnRank(t.get(e + "up_proj.weight_scale"), 0));
        assertArrayEquals(new long[] {7168, 32}, p.shapeOnRank(t.get(e + "down_proj.weight_packed"), 7));
        assertArrayEquals(new long[] {7168, 8}, p.shapeOnRank(t.get(e + "down_proj.weight_scale"), 7));
        assertArrayEquals(new long[] {256, 7168}, p.shapeOnRank(t.get(L7 + "mlp.shared_experts.up_proj.weight"), 1));
        String dense = "language_model.model.layers.0.mlp.";
        assertArrayEquals(new long[] {7168, 2304}, p.shapeOnRank(t.get(dense + "down_proj.weight"), 1));
        assertArrayEquals(new long[] {20480, 7168}, p.shapeOnRank(t.get("language_model.model.embed_tokens.weight"), 7));
        assertArrayEquals(new long[] {20480, 7168}, p.shapeOnRank(t.get("language_model.lm_head.weight"), 0));
        assertEquals(TensorRole.VISION, p.rule("vision_tower.encoder.blocks.3.wqkv.weight").role());
        assertEquals(Placement.REPLICATED, p.rule("mm_projector.proj.2.weight").placement());
    }

    @Test
    void expertParallelGivesWholeExpertsInContiguousBlocks() {
        ShardingPlan p = new ShardingPlan(RealK25.CONFIG, 8, true);
        Map<String, TensorSpec> t = RealK25.BY_NAME;
        assertEquals(48, p.expertsPerRank());
        assertEquals(0, p.expertOwner(47));
        assertEquals(1, p.expertOwner(48));
        assertEquals(7, p.expertOwner(383));
        TensorSpec down = t.get(L7 + "mlp.experts.48.down_proj.weight_packed");
        assertArrayEquals(new long[] {7168, 256}, p.shapeOnRank(down, 1));
        assertEquals(0, p.bytesOnRank(down, 0));
        assertEquals(0, p.bytesOnRank(t.get(L7 + "mlp.experts.48.down_proj.weight_shape"), 2));
        // Attention stays split by head under EP.
        assertArrayEquals(new long[] {1536, 1536}, p.shapeOnRank(t.get(L7 + "self_attn.q_b_proj.weight"), 3));
    }

    /** Split and owned tensors are cut into disjoint parts that add up to the whole; replicated ones are whole. */
    private static void partsAddUp(ShardingPlan p, TensorSpec s) {
        Placement placement = p.rule(s.name()).placement();
        long sum = 0;
        for (int r = 0; r < p.ranks(); r++) {
            long b = ShardingPlan.partBytes(s, placement, r);
            assertEquals(Tensor.numel(ShardingPlan.partShape(s.shape(), placement, r)) * s.dtype().bytes(), b, s.name());
            sum += b;
        }
        assertEquals(placement instanceof Placement.Replicated ? s.byteSize() * p.ranks() : s.byteSize(), sum, s.name());
    }

    /**
     * Every one of the 208,550 tensors has a rule; the parts add up for every tensor but the routed experts, which
     * are checked at the edges of the ranks' blocks (0, 47, 48, 383: the same shapes, only the owner changes).
     */
    @Test
    void everyK25TensorHasARuleAndItsPartsAddUp() {
        for (ShardingPlan p : List.of(new ShardingPlan(RealK25.CONFIG, 8, false), new ShardingPlan(RealK25.CONFIG, 8, true))) {
            for (TensorSpec s : RealK25.LAYOUT) {
                if (p.rule(s.name()).role() != TensorRole.ROUTED_EXPERTS) {
                    partsAddUp(p, s);
                }
            }
            for (int layer : new int[] {1, 60}) {
                for (int e : new int[] {0, 47, 48, 383}) {
                    for (String proj : List.of("gate_proj", "up_proj", "down_proj")) {
                        for (String t : List.of("weight_packed", "weight_scale", "weight_shape")) {
                            String name = "language_model.model.layers." + layer + ".mlp.experts." + e + "." + proj + "." + t;
                            partsAddUp(p, RealK25.BY_NAME.get(name));
                        }
                    }
                }
            }
        }
    }

    @Test
    void everyTensorOfTheGoldenTinyCheckpointHasARule() {
        ModelConfig c = tiny();
        for (int ranks : new int[] {1, 2, 4}) {
            ShardingPlan p = new ShardingPlan(c, ranks, true);
            CheckpointLayout.of(c).forEach(s -> partsAddUp(p, s));
            try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint())) {
                for (Map.Entry<String, Tensor> e : ck.tensors().entrySet()) {
                    p.rule(e.getKey());
                }
            }
        }
        // Dense MLP 128 and shared expert 32 split by 4; 4 heads of 1 per rank.
        ShardingPlan p = new ShardingPlan(c, 4, true);
        TensorSpec down = CheckpointLayout.of(c).stream()
                .filter(s -> s.name().equals("language_model.model.layers.0.mlp.down_proj.weight")).findFirst().orElseThrow();
        assertEquals(1, p.headsPerRank());
        assertArrayEquals(new long[] {64, 32}, p.shapeOnRank(down, 2));
        assertEquals(2, p.expertsPerRank());
    }

    /** DeepSeek-V3's FP8 layout (bare names, q_proj without LoRA, 128x128 scale blocks): splits keep whole blocks. */
    @Test
    void fp8BlockCheckpointsSplitOnWholeBlocks() throws IOException {
        ObjectNode root;
        try (InputStream in = ShardingPlanTest.class.getResourceAsStream("/io/peregrine/engine/kimi-k25/config.json")) {
            root = (ObjectNode) new ObjectMapper().readTree(in).get("text_config");
        }
        root.put("model_type", "deepseek_v3");
        root.putNull("q_lora_rank");
        root.put("num_hidden_layers", 4);   // the rules do not depend on the counts; the layout stays small
        root.put("n_routed_experts", 64);
        ObjectNode q = root.putObject("quantization_config");
        q.put("quant_method", "fp8");
        q.putArray("weight_block_size").add(128).add(128);
        ModelConfig v3 = ConfigParser.parse("config.json", root, null);
        ShardingPlan p = new ShardingPlan(v3, 8, false);
        Map<String, TensorSpec> t = new java.util.HashMap<>();
        CheckpointLayout.of(v3).forEach(s -> t.put(s.name(), s));
        assertArrayEquals(new long[] {1536, 7168}, p.shapeOnRank(t.get("model.layers.3.self_attn.q_proj.weight"), 2));
        assertArrayEquals(new long[] {12, 56}, p.shapeOnRank(t.get("model.layers.3.self_attn.q_proj.weight_scale_inv"), 2));
        assertArrayEquals(new long[] {56, 8}, p.shapeOnRank(t.get("model.layers.3.self_attn.o_proj.weight_scale_inv"), 2));
        assertArrayEquals(new long[] {2, 56}, p.shapeOnRank(t.get("model.layers.3.mlp.experts.5.up_proj.weight_scale_inv"), 7));
        new ShardingPlan(v3, 16, false);
        String m = assertThrows(ShardingException.class, () -> new ShardingPlan(v3, 32, false)).getMessage();
        // 18432 / 32 = 576 and 2048 / 32 = 64 are not whole 128-blocks (vLLM refuses the same split).
        for (String part : List.of("mlp.gate_proj: 576 rows per rank over 32 ranks is not a multiple of the "
                        + "quantization group of 128", "mlp.down_proj: 576 input columns per rank",
                "mlp.shared_experts.gate_proj: 64 rows per rank", "mlp.experts.{e}.down_proj: 64 input columns per rank "
                        + "over 32 ranks is not a multiple of the quantization group of 128 (or use --enable-expert-parallel")) {
            assertTrue(m.contains(part), m);
        }
        new ShardingPlan(v3, 8, true);
    }

    @Test
    void unknownTensorNamesAreAnError() {
        ShardingPlan p = new ShardingPlan(RealK25.CONFIG, 8, false);
        assertThrows(IllegalArgumentException.class, () -> p.rule("language_model.model.layers.1.self_attn.rotary.inv_freq"));
        assertThrows(IllegalArgumentException.class, () -> p.rule("model.layers.1.mlp.gate.weight"));
    }

    @Test
    void countsTheRanksCannotDivideAreRefusedByName() {
        String heads = assertThrows(ShardingException.class, () -> new ShardingPlan(RealK25.CONFIG, 3, false)).getMessage();
        assertTrue(heads.contains("num_attention_heads 64 is not divisible by 3 tensor-parallel ranks"), heads);
        String experts = assertThrows(ShardingException.class, () -> new ShardingPlan(RealK25.CONFIG, 5, true)).getMessage();
        assertTrue(experts.contains("n_routed_experts 384 is not divisible by 5 expert-parallel ranks"), experts);
        assertTrue(experts.contains("num_attention_heads 64"), experts);
        // The tiny model's experts are 32 wide: half of that is not a whole INT4 group of 32.
        String groups = assertThrows(ShardingException.class, () -> new ShardingPlan(tiny(), 2, false)).getMessage();
        assertTrue(groups.contains("mlp.experts.{e}.down_proj: 16 input columns per rank over 2 ranks is not a multiple "
                + "of the quantization group of 32"), groups);
        assertTrue(groups.contains("--enable-expert-parallel"), groups);
        String ep = assertThrows(ShardingException.class, () -> new ShardingPlan(tiny(), 8, true)).getMessage();
        assertTrue(ep.contains("num_attention_heads 4 is not divisible by 8"), ep);
        assertEquals("num_attention_heads 4 is not divisible by 8 tensor-parallel ranks", ep);
    }
}
