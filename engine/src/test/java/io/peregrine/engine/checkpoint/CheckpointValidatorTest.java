package io.peregrine.engine.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.config.ConfigParser;
import io.peregrine.engine.config.ModelConfig;
import io.peregrine.engine.testing.TestData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CheckpointValidatorTest {
    private static final String L1 = "language_model.model.layers.1.";

    @Test
    void reportsEveryProblemAtOnce() {
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint()); Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> t = new LinkedHashMap<>(ck.tensors());
            t.remove(L1 + "self_attn.o_proj.weight");
            t.remove("vision_tower.encoder.blocks.1.wo.bias");
            String q = L1 + "self_attn.q_b_proj.weight";
            t.put(q, new Tensor(q, DType.BF16, new long[] {96, 16}, arena.allocate(96 * 16 * 2)));
            String bias = L1 + "mlp.gate.e_score_correction_bias";
            t.put(bias, new Tensor(bias, DType.BF16, new long[] {8}, arena.allocate(16)));
            String shape = L1 + "mlp.experts.3.down_proj.weight_shape";
            MemorySegment s = arena.allocate(8);
            s.setAtIndex(Tensor.I32, 0, 64);
            s.setAtIndex(Tensor.I32, 1, 64);
            t.put(shape, new Tensor(shape, DType.I32, new long[] {2}, s));
            String mtp = "language_model.model.layers.3.eh_proj.weight";
            t.put(mtp, new Tensor(mtp, DType.BF16, new long[] {2}, arena.allocate(4)));

            CheckpointValidator.Report r = CheckpointValidator.validate(ck.config(), t);
            assertFalse(r.isUsable());
            List<String> msgs = r.problems().stream().map(Object::toString).toList();
            assertEquals(6, msgs.size(), msgs.toString());
            assertTrue(msgs.contains("missing tensor " + L1 + "self_attn.o_proj.weight BF16[64, 64]"), msgs.toString());
            assertTrue(msgs.contains("missing tensor vision_tower.encoder.blocks.1.wo.bias BF16[32]"), msgs.toString());
            assertTrue(msgs.contains("tensor " + q + " has shape [96, 16], expected [96, 32]"), msgs.toString());
            assertTrue(msgs.contains("tensor " + bias + " is BF16, expected F32"), msgs.toString());
            assertTrue(msgs.contains("tensor " + shape + ": says [64, 64], the config needs [64, 32]"), msgs.toString());
            assertTrue(msgs.contains("unused tensor " + mtp + " BF16[2]"), msgs.toString());
            assertEquals(5, r.fatal().size());

            CheckpointException e = assertThrows(CheckpointException.class, () -> r.throwIfUnusable(ck.dir()));
            assertTrue(e.getMessage().startsWith(ck.dir() + ": 5 problems"), e.getMessage());
            assertTrue(e.getMessage().contains("o_proj") && e.getMessage().contains("wo.bias"), e.getMessage());
        }
    }

    @Test
    void extraTensorsAloneAreNotFatal() {
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint()); Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> t = new LinkedHashMap<>(ck.tensors());
            t.put("extra", new Tensor("extra", DType.U8, new long[] {1}, arena.allocate(1)));
            assertTrue(CheckpointValidator.validate(ck.config(), t).isUsable());
        }
    }

    /** The ignore list, not the module name, decides: ignoring nothing makes the tiny checkpoint's bf16 linears wrong. */
    @Test
    void quantizationFollowsTheIgnoreList() throws Exception {
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(TestData.tinyCheckpoint().resolve("config.json").toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) json.get("text_config").get("quantization_config"))
                .putArray("ignore").add("lm_head").add("re:.*self_attn.*").add("re:.*shared_experts.*");
        ModelConfig c = ConfigParser.parse("config.json", json, null);
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint())) {
            List<CheckpointProblem> p = CheckpointValidator.validate(c, ck.tensors()).fatal();
            // Layer 0's dense gate/up/down are now expected as INT4: 3 missing packed + 3 scales + 3 shapes.
            assertEquals(9, p.size(), p.toString());
            assertTrue(p.stream().allMatch(x -> x.tensor().startsWith("language_model.model.layers.0.mlp.")), p.toString());
        }
    }
}
