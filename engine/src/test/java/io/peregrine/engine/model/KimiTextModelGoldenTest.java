package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.peregrine.engine.kv.LatentCache;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every text-golden case: all prefill logits, then sixteen greedy steps decoded one token at a time through
 * the latent cache (absorbed attention), each step's logits and token against the reference (which recomputed
 * the whole sequence every step).
 */
class KimiTextModelGoldenTest {
    private static TinyModel tiny;

    @BeforeAll
    static void load() {
        tiny = new TinyModel();
    }

    @AfterAll
    static void close() {
        tiny.close();
    }

    static Stream<String> cases() {
        return GoldenCases.all().stream().map(GoldenCases::name);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void prefillAndGreedyDecodeMatchTheReference(String name) {
        GoldenCases c = GoldenCases.named(name);
        float[][] expectedPrefill = c.prefillLogits();
        float[][] expectedSteps = c.greedyStepLogits();
        int total = c.prompt().length + c.greedy().length;
        int blocks = (total + TinyModel.BLOCK - 1) / TinyModel.BLOCK;
        LatentCache cache = tiny.newCache(blocks);
        int[] table = TinyModel.reversedBlocks(blocks);

        float[][] prefill = tiny.prefill(c.prompt(), 0, table, cache, true);
        assertEquals(c.prompt().length, prefill.length);
        for (int t = 0; t < prefill.length; t++) {
            Logits.assertClose(expectedPrefill[t], prefill[t], name + " prefill row " + t);
        }

        int[] generated = new int[c.greedy().length];
        float[] last = prefill[prefill.length - 1];
        for (int s = 0; s < generated.length; s++) {
            Logits.assertClose(expectedSteps[s], last, name + " greedy step " + s);
            generated[s] = Logits.argmax(last);
            if (s + 1 < generated.length) {
                int pos = c.prompt().length + s;
                last = tiny.prefill(new int[] {generated[s]}, pos, table, cache, false)[0];
            }
        }
        assertArrayEquals(c.greedy(), generated, name + " greedy ids");
    }
}
