package io.peregrine.engine.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Group-limited noaux_tc routing against a brute-force reading of the reference (spec §3.5). */
class MoeRouterTest {

    @ParameterizedTest
    @CsvSource({"8,1,1,2", "384,1,1,8", "256,8,4,8", "64,4,1,3", "12,3,2,5", "16,16,3,3"})
    void routesLikeTheReference(int experts, int nGroup, int topkGroup, int topK) {
        MoeRouter router = new MoeRouter(experts, nGroup, topkGroup, topK, true, 2.827f);
        Random rnd = new Random(experts * 31L + nGroup);
        for (int trial = 0; trial < 50; trial++) {
            float[] logits = new float[experts];
            float[] bias = new float[experts];
            for (int e = 0; e < experts; e++) {
                logits[e] = (float) rnd.nextGaussian() * 2;
                bias[e] = (float) rnd.nextDouble() * 0.3f;
            }
            int[] idx = new int[topK];
            float[] w = new float[topK];
            router.route(logits, 0, bias, idx, w);

            // reference: group score = top-2 sum of biased scores; keep best groups; top-k of biased among them
            int per = experts / nGroup;
            double[] s = IntStream.range(0, experts).mapToDouble(e -> 1 / (1 + Math.exp(-logits[e]))).toArray();
            double[] b = IntStream.range(0, experts).mapToDouble(e -> (float) s[e] + bias[e]).toArray();
            Integer[] groups = IntStream.range(0, nGroup).boxed().toArray(Integer[]::new);
            double[] gs = new double[nGroup];
            for (int g = 0; g < nGroup; g++) {
                double[] in = Arrays.copyOfRange(b, g * per, (g + 1) * per);
                Arrays.sort(in);
                gs[g] = per >= 2 ? in[per - 1] + in[per - 2] : in[per - 1];
            }
            Arrays.sort(groups, Comparator.comparingDouble((Integer g) -> -gs[g]));
            boolean[] keep = new boolean[nGroup];
            for (int k = 0; k < topkGroup; k++) {
                keep[groups[k]] = true;
            }
            int[] expected = IntStream.range(0, experts).filter(e -> keep[e / per]).boxed()
                    .sorted(Comparator.comparingDouble((Integer e) -> -b[e])).limit(topK).mapToInt(Integer::intValue).toArray();
            assertArrayEquals(expected, idx, "trial " + trial);
            double sum = Arrays.stream(expected).mapToDouble(e -> (float) s[e]).sum();
            for (int k = 0; k < topK; k++) {
                assertEquals(s[expected[k]] / sum * 2.827, w[k], 1e-5, "weight " + k);
            }
        }
    }

    @Test
    void biasChoosesButDoesNotWeigh() {
        MoeRouter router = new MoeRouter(4, 1, 1, 1, true, 1f);
        int[] idx = new int[1];
        float[] w = new float[1];
        router.route(new float[] {2, 0, 0, 0}, 0, new float[] {0, 0, 5, 0}, idx, w);
        assertEquals(2, idx[0]);
        // top-1 with normalisation: HF skips it for top_k == 1, so the raw sigmoid stays
        assertEquals((float) (1 / (1 + Math.exp(0))), w[0], 1e-7);
    }

    @Test
    void rejectsImpossibleConfigurations() {
        assertThrows(IllegalArgumentException.class, () -> new MoeRouter(10, 3, 1, 2, true, 1f));
        assertThrows(IllegalArgumentException.class, () -> new MoeRouter(8, 2, 3, 2, true, 1f));
        assertThrows(IllegalArgumentException.class, () -> new MoeRouter(8, 4, 1, 3, true, 1f));
    }
}
