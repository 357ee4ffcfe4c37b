package io.peregrine.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.testing.Npy;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The text-golden cases (golden README §3): prompt, greedy continuation and the reference logits. */
record GoldenCases(String name, int[] prompt, int[] greedy) {

    static List<GoldenCases> all() {
        try {
            JsonNode root = new ObjectMapper().readTree(dir().resolve("text_golden.json").toFile());
            List<GoldenCases> out = new ArrayList<>();
            for (JsonNode c : root.get("cases")) {
                out.add(new GoldenCases(c.get("name").asText(), ints(c.get("prompt_ids")), ints(c.get("greedy_ids"))));
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static GoldenCases named(String name) {
        return all().stream().filter(c -> c.name.equals(name)).findFirst().orElseThrow();
    }

    static Path dir() {
        return TestData.golden("text-golden");
    }

    float[][] prefillLogits() {
        return Npy.readF32Matrix(dir().resolve(name + ".prefill_logits.f32.npy"));
    }

    float[][] greedyStepLogits() {
        return Npy.readF32Matrix(dir().resolve(name + ".greedy_step_logits.f32.npy"));
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }
}
