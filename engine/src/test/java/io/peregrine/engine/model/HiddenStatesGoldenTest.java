package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.checkpoint.SafetensorsFile;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.kv.LatentCache;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Per-layer activations of the debug prompt p1_len7 against the reference (rel. error ≤ 1e-5 per tensor). */
class HiddenStatesGoldenTest {

    @Test
    void everyTracedActivationMatchesTheReference() {
        GoldenCases c = GoldenCases.named("p1_len7");
        Map<String, float[]> traced = new HashMap<>();
        try (TinyModel tiny = new TinyModel(); Arena arena = Arena.ofConfined()) {
            LatentCache cache = tiny.newCache(1);
            tiny.model.forward(List.of(new SequenceSlice(c.prompt(), 0, new int[] {0}, true)), cache,
                    (name, data, rows, cols) -> traced.put(name, Arrays.copyOf(data, rows * cols)));
            SafetensorsFile golden = SafetensorsFile.open(GoldenCases.dir().resolve("p1_len7.hidden_states.safetensors"), arena);
            int compared = 0;
            for (Tensor t : golden.tensors().values()) {
                String name = t.name();
                if (name.startsWith("hf_hidden_states")) {
                    continue;
                }
                float[] actual = traced.get(name);
                assertTrue(actual != null, "the model did not trace " + name);
                float[] expected = t.toFloatArray();
                if (name.endsWith("router.topk_idx")) {
                    assertSameExperts(expected, actual, traced.get(name.replace("idx", "weight")),
                            golden.tensor(name.replace("idx", "weight")).toFloatArray(), name);
                } else if (!name.endsWith("router.topk_weight")) {
                    assertRelClose(expected, actual, name);
                }
                compared++;
            }
            assertEquals(38, compared, "tensors compared");
        }
    }

    private static void assertRelClose(float[] expected, float[] actual, String name) {
        assertEquals(expected.length, actual.length, name + " size");
        double max = 0;
        double diff = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i]));
            diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(diff <= 1e-5 * max, name + ": max|Δ| " + diff + " > 1e-5 × " + max);
    }

    /** torch.topk(sorted=False) order is arbitrary: compare per token as (expert → weight) maps. */
    private static void assertSameExperts(float[] idxRef, float[] idx, float[] w, float[] wRef, String name) {
        int k = 2;
        for (int t = 0; t < idxRef.length / k; t++) {
            Map<Integer, Float> ref = new HashMap<>();
            Set<Integer> got = new HashSet<>();
            for (int j = 0; j < k; j++) {
                ref.put((int) idxRef[t * k + j], wRef[t * k + j]);
                got.add((int) idx[t * k + j]);
            }
            assertEquals(ref.keySet(), got, name + " token " + t);
            for (int j = 0; j < k; j++) {
                float expected = ref.get((int) idx[t * k + j]);
                // same per-layer tolerance as the hidden states these weights are computed from
                assertEquals(expected, w[t * k + j], 1e-5 * Math.abs(expected), name + " weight, token " + t);
            }
        }
    }
}
