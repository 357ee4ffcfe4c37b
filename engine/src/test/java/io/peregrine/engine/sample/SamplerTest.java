package io.peregrine.engine.sample;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SamplerTest {
    private final Sampler sampler = new Sampler();

    private static SamplingParams params(double temp, double topP, int topK, double minP, double presence,
                                         double frequency, double repetition) {
        return new SamplingParams(temp, topP, topK, minP, presence, frequency, repetition, 1L, 100, List.of(),
                List.of(), false, -1, 1);
    }

    private static float[] logitsOf(double... probs) {
        float[] l = new float[probs.length];
        for (int i = 0; i < probs.length; i++) {
            l[i] = (float) Math.log(probs[i]);
        }
        return l;
    }

    private int[] histogram(float[] logits, SamplingParams p, int draws) {
        SplittableRandom rng = new SplittableRandom(123);
        int[] h = new int[logits.length];
        for (int i = 0; i < draws; i++) {
            h[sampler.sample(logits, p, null, rng)]++;
        }
        return h;
    }

    @Test
    void greedyTakesTheLargestLogitAndTheLowestIdOnTies() {
        SamplingParams g = SamplingParams.greedy(1);
        assertEquals(2, sampler.sample(new float[] {0.1f, -3f, 4f, 3.9f}, g, null, null));
        assertEquals(1, sampler.sample(new float[] {0.1f, 4f, 4f, 3.9f}, g, null, null));
        assertThrows(IllegalStateException.class,
                () -> sampler.sample(new float[] {0.1f, Float.NaN}, g, null, null));
    }

    @Test
    void temperatureOneFollowsTheSoftmaxAndLowerTemperatureSharpensIt() {
        float[] l = logitsOf(0.5, 0.3, 0.2);
        int n = 40_000;
        int[] h = histogram(l, params(1.0, 1.0, 0, 0, 0, 0, 1), n);
        assertEquals(0.5, h[0] / (double) n, 0.01);
        assertEquals(0.3, h[1] / (double) n, 0.01);
        assertEquals(0.2, h[2] / (double) n, 0.01);
        // T = 0.5 squares the probabilities: 0.25, 0.09, 0.04 over 0.38
        int[] s = histogram(l, params(0.5, 1.0, 0, 0, 0, 0, 1), n);
        assertEquals(0.25 / 0.38, s[0] / (double) n, 0.01);
        assertEquals(0.04 / 0.38, s[2] / (double) n, 0.01);
    }

    @Test
    void topKKeepsOnlyTheKMostLikely() {
        float[] l = logitsOf(0.05, 0.3, 0.1, 0.25, 0.2, 0.1);
        int[] h = histogram(l, params(1.0, 1.0, 3, 0, 0, 0, 1), 20_000);
        assertEquals(0, h[0] + h[2] + h[5]);
        assertEquals(0.3 / 0.75, h[1] / 20_000.0, 0.015);
        assertTrue(h[3] > 0 && h[4] > 0);
        int[] one = histogram(l, params(1.5, 1.0, 1, 0, 0, 0, 1), 500);
        assertEquals(500, one[1], "top_k = 1 is greedy");
    }

    @Test
    void topPKeepsTheSmallestNucleusReachingP() {
        float[] l = logitsOf(0.15, 0.5, 0.05, 0.3);
        // 0.5 < 0.7, 0.5 + 0.3 >= 0.7: tokens 1 and 3
        int[] h = histogram(l, params(1.0, 0.7, 0, 0, 0, 0, 1), 20_000);
        assertEquals(0, h[0] + h[2]);
        assertEquals(0.5 / 0.8, h[1] / 20_000.0, 0.015);
        // top_p applies to the top-k mass: top-2 renormalised is 0.625/0.375, p = 0.6 keeps token 1 only
        int[] k = histogram(l, params(1.0, 0.6, 2, 0, 0, 0, 1), 1000);
        assertEquals(1000, k[1]);
    }

    @Test
    void minPDropsTokensBelowAFractionOfTheBest() {
        float[] l = logitsOf(0.15, 0.5, 0.05, 0.3);
        // threshold 0.4 * 0.5 = 0.2: tokens 1 and 3 remain
        int[] h = histogram(l, params(1.0, 1.0, 0, 0.4, 0, 0, 1), 20_000);
        assertEquals(0, h[0] + h[2]);
        assertEquals(0.5 / 0.8, h[1] / 20_000.0, 0.015);
    }

    @Test
    void penaltiesFollowTheirDefinitions() {
        PenaltyState st = new PenaltyState(new int[] {0}, 1);
        float[] pos = {2.0f, 1.9f, -1f};
        assertEquals(0, sampler.sample(pos, params(0, 1, 0, 0, 0, 0, 1.0), st, null));
        assertEquals(1, sampler.sample(pos, params(0, 1, 0, 0, 0, 0, 1.2), st, null), "2.0 / 1.2 < 1.9");
        float[] neg = {-1.0f, -1.1f};
        assertEquals(0, sampler.sample(neg, params(0, 1, 0, 0, 0, 0, 1.0), st, null));
        assertEquals(1, sampler.sample(neg, params(0, 1, 0, 0, 0, 0, 1.2), st, null), "-1.0 * 1.2 < -1.1");

        PenaltyState out = new PenaltyState(new int[0], 0);
        float[] l = {2.0f, 1.85f};
        out.accept(0);
        assertEquals(0, sampler.sample(l, params(0, 1, 0, 0, 0, 0.1, 1), out, null), "2.0 - 0.1 > 1.85");
        out.accept(0);
        assertEquals(1, sampler.sample(l, params(0, 1, 0, 0, 0, 0.1, 1), out, null), "2.0 - 2 * 0.1 < 1.85");
        assertEquals(1, sampler.sample(l, params(0, 1, 0, 0, 0.2, 0, 1), out, null), "2.0 - 0.2 < 1.85");
        assertEquals(0, sampler.sample(l, params(0, 1, 0, 0, 0.1, 0, 1), out, null), "presence counts once");
        // the prompt is not an output: presence/frequency ignore it
        assertEquals(0, sampler.sample(pos, params(0, 1, 0, 0, 5, 5, 1), st, null));
    }

    @Test
    void aSeedReproducesItsDraws() {
        SplittableRandom r = new SplittableRandom(5);
        float[] l = new float[500];
        for (int i = 0; i < l.length; i++) {
            l[i] = (float) r.nextGaussian();
        }
        SamplingParams p = params(1.0, 0.95, 0, 0, 0, 0, 1);
        int[] a = draws(l, p, 99);
        assertArrayEquals(a, draws(l, p, 99));
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(draws(l, p, 100)));
    }

    private int[] draws(float[] l, SamplingParams p, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int[] out = new int[40];
        for (int i = 0; i < out.length; i++) {
            out[i] = sampler.sample(l, p, null, rng);
        }
        return out;
    }

    /** The candidate pre-filter must give exactly what a full sort of the vocabulary gives. */
    @Test
    void truncationMatchesAFullSortOnRandomLogits() {
        SplittableRandom r = new SplittableRandom(2024);
        int[] ks = {0, 1, 5, 50, 5000};
        double[] ps = {1.0, 0.99, 0.9, 0.5, 0.1};
        double[] mins = {0.0, 0.001, 0.05, 0.5};
        for (int trial = 0; trial < 300; trial++) {
            int v = 50 + r.nextInt(3000);
            float[] l = new float[v];
            double scale = 0.5 + r.nextDouble() * 8;
            for (int i = 0; i < v; i++) {
                l[i] = (float) (r.nextGaussian() * scale);
            }
            if (trial % 7 == 0) {
                l[r.nextInt(v)] = l[0]; // ties
            }
            SamplingParams p = params(0.3 + r.nextDouble() * 1.5, ps[r.nextInt(ps.length)], ks[r.nextInt(ks.length)],
                    mins[r.nextInt(mins.length)], 0, 0, 1);
            long seed = r.nextLong();
            int got = sampler.sample(l, p, null, new SplittableRandom(seed));
            int want = fullSortReference(l, p, new SplittableRandom(seed));
            assertEquals(want, got, "trial " + trial + " " + p);
        }
    }

    private static int fullSortReference(float[] l, SamplingParams p, SplittableRandom rng) {
        int v = l.length;
        float max = Float.NEGATIVE_INFINITY;
        for (float x : l) {
            max = Math.max(max, x);
        }
        double[] e = new double[v];
        for (int i = 0; i < v; i++) {
            e[i] = Math.exp((l[i] - max) * (1.0 / p.temperature()));
        }
        List<Integer> kept = new ArrayList<>();
        for (int i = 0; i < v; i++) {
            if (e[i] >= p.minP()) {
                kept.add(i);
            }
        }
        boolean truncates = (p.topK() > 0 && p.topK() < v) || p.topP() < 1.0;
        if (!truncates) {
            double mass = 0;
            for (int i : kept) {
                mass += e[i];
            }
            double u = rng.nextDouble() * mass;
            for (int i : kept) {
                u -= e[i];
                if (u < 0) {
                    return i;
                }
            }
            return kept.getLast();
        }
        kept.sort(Comparator.<Integer>comparingDouble(i -> -(float) e[i]).thenComparingInt(i -> i));
        if (p.topK() > 0 && p.topK() < kept.size()) {
            kept = kept.subList(0, p.topK());
        }
        double mass = 0;
        for (int i : kept) {
            mass += e[i];
        }
        if (p.topP() < 1.0) {
            double cum = 0;
            int j = 0;
            while (j < kept.size()) {
                cum += e[kept.get(j)];
                j++;
                if (cum >= p.topP() * mass) {
                    break;
                }
            }
            kept = kept.subList(0, j);
        }
        // the draw walks the kept tokens in id order
        kept = new ArrayList<>(kept);
        kept.sort(Comparator.naturalOrder());
        double keptMass = 0;
        for (int i : kept) {
            keptMass += e[i];
        }
        double u = rng.nextDouble() * keptMass;
        for (int i : kept) {
            u -= e[i];
            if (u < 0) {
                return i;
            }
        }
        return kept.getLast();
    }

    @Test
    void logprobsAreANormalisedLogSoftmaxWithSortedAlternatives() {
        float[] l = {1f, 3f, 2f, 3f, -5f};
        TokenLogprob lp = Logprobs.of(l, 2, 3);
        double z = 0;
        for (float x : l) {
            z += Math.exp(x);
        }
        assertEquals(Math.log(Math.exp(2) / z), lp.logprob(), 1e-6);
        assertEquals(2, lp.tokenId());
        assertEquals(List.of(1, 3, 2), lp.top().stream().map(TokenLogprob.Alternative::tokenId).toList());
        assertEquals(lp.top().get(0).logprob(), lp.top().get(1).logprob());
        assertEquals(0, Logprobs.of(l, 0, 0).top().size());
        assertEquals(5, Logprobs.of(l, 0, 20).top().size());
    }
}
