package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.peregrine.engine.runtime.SoloGenerator;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SoloGeneratorTest {

    @Test
    void greedyGenerationReproducesTheGoldenContinuation() {
        GoldenCases c = GoldenCases.named("p2_len40");
        try (TinyModel tiny = new TinyModel()) {
            List<Integer> streamed = new ArrayList<>();
            SoloGenerator.Result r = new SoloGenerator(tiny.model)
                    .generate(c.prompt(), c.greedy().length, 0, 0, Set.of(), true, (s, t) -> streamed.add(t));
            assertArrayEquals(c.greedy(), r.tokens());
            assertEquals(c.greedy().length, streamed.size());
            float[][] expected = c.greedyStepLogits();
            for (int s = 0; s < expected.length; s++) {
                Logits.assertClose(expected[s], r.stepLogits()[s], "step " + s);
            }
        }
    }

    @Test
    void stopsAtAStopIdAndRejectsBadArguments() {
        GoldenCases c = GoldenCases.named("p1_len7");
        try (TinyModel tiny = new TinyModel()) {
            SoloGenerator g = new SoloGenerator(tiny.model);
            SoloGenerator.Result r = g.generate(c.prompt(), 16, 0, 0, Set.of(c.greedy()[2]), false, (s, t) -> {});
            assertArrayEquals(new int[] {c.greedy()[0], c.greedy()[1], c.greedy()[2]}, r.tokens());
            assertThrows(IllegalArgumentException.class, () -> g.generate(new int[0], 1, 0, 0, Set.of(), false, (s, t) -> {}));
            assertThrows(IllegalArgumentException.class, () -> g.generate(c.prompt(), 1, -1, 0, Set.of(), false, (s, t) -> {}));
            assertThrows(IllegalArgumentException.class,
                    () -> g.generate(new int[] {99999}, 1, 0, 0, Set.of(), false, (s, t) -> {}));
        }
    }

    @Test
    void samplingIsSeededAndStaysInTheVocabulary() {
        GoldenCases c = GoldenCases.named("p1_len7");
        try (TinyModel tiny = new TinyModel()) {
            SoloGenerator g = new SoloGenerator(tiny.model);
            int[] a = g.generate(c.prompt(), 6, 1.0, 7, Set.of(), false, (s, t) -> {}).tokens();
            int[] b = g.generate(c.prompt(), 6, 1.0, 7, Set.of(), false, (s, t) -> {}).tokens();
            assertArrayEquals(a, b);
            for (int t : a) {
                assertEquals(true, t >= 0 && t < tiny.config().vocabSize());
            }
        }
    }
}
