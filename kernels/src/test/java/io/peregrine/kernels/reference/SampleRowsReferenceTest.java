package io.peregrine.kernels.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.peregrine.engine.sample.BatchSampler;
import io.peregrine.engine.sample.Logprobs;
import io.peregrine.engine.sample.PenaltyState;
import io.peregrine.engine.sample.Sampler;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sample.TokenLogprob;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The device sampler's algorithm (its scalar twin: rank bisection instead of a sort, chunked draw scan, counts words)
 * against the engine's host sampler, the CPU backend's sampling: many seeds, every parameter mix, constrained rows,
 * counts accumulating over steps. The same tokens, logprobs within 1e-6.
 */
class SampleRowsReferenceTest {
    static final int VOCAB = 1003;

    /** temperature, top_p, top_k, min_p, presence, frequency, repetition, logprobs */
    static final double[][] MIXES = {
        {0, 1, 0, 0, 0, 0, 1, -1},
        {0, 1, 0, 0, 0, 0, 1.5, 5},
        {0.7, 1, 0, 0, 0, 0, 1, 0},
        {1.3, 1, 20, 0, 0, 0, 1, 3},
        {1.0, 0.9, 0, 0, 0, 0, 1, -1},
        {1.0, 1, 0, 0.05, 0, 0, 1, 20},
        {0.8, 0.8, 50, 0.02, 0, 0, 1, 1},
        {1.0, 1, 0, 0, 0.5, 0.3, 1.2, 2},
        {1.0, 0.95, 40, 0, 1.0, 0, 1, -1},
        {0.5, 1, 5, 0, 0, 0.7, 1.1, 4},
        {2.0, 0.05, 0, 0, 0, 0, 1, -1},
        {1.0, 1, 1, 0, 0, 0, 1, 0},
        {1.0, 0.5, 3000, 0.5, 0, 0, 1, -1},
        {0.3, 0.99, 2, 0, 0.1, 0.1, 0.9, 20},
    };

    @Test
    void theSameTokensAndLogprobsAsTheHostSampler() {
        for (long seed = 0; seed < 12; seed++) {
            run(seed);
        }
    }

    private static void run(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed * 7919 + 3);
        int choices = MIXES.length;
        Sampler sampler = new Sampler();
        for (int c = 0; c < choices; c++) {
            double[] m = MIXES[c];
            SamplingParams p = new SamplingParams(m[0], m[1], (int) m[2], m[3], m[4], m[5], m[6], seed + c, 16,
                    List.of(), List.of(), false, (int) m[7], 1);
            var rule = p.rule();
            SampleRowsReference.Rule r = new SampleRowsReference.Rule(rule.temperature(), rule.topP(), rule.topK(),
                    rule.minP(), rule.presencePenalty(), rule.frequencyPenalty(), rule.repetitionPenalty());
            int[] prompt = rnd.ints(5 + c, 0, VOCAB).toArray();
            PenaltyState host = new PenaltyState(prompt, prompt.length);
            int[] counts = new int[VOCAB];
            for (int t : prompt) {
                counts[t] |= SampleRowsReference.SEEN;
            }
            boolean constrained = (seed + c) % 3 == 1;
            for (int step = 0; step < 10; step++) {
                float[] logits = new float[VOCAB];
                for (int i = 0; i < VOCAB; i++) {
                    // a few exact ties, as bf16-rounded logits have
                    logits[i] = step % 2 == 0 ? (float) (rnd.nextGaussian() * 3) : Math.round(rnd.nextGaussian() * 8) / 4f;
                }
                long[] mask = null;
                float[] dist = logits.clone();
                if (constrained) {
                    mask = SamplingBatch.mask(VOCAB);
                    for (int t = 0; t < VOCAB; t++) {
                        if (rnd.nextInt(10) < 3 || t == step) {
                            mask[t >>> 6] |= 1L << t;
                        } else {
                            dist[t] = Float.NEGATIVE_INFINITY;
                        }
                    }
                }
                double u = rule.greedy() ? 0.0 : rnd.nextDouble();
                int want = sampler.sample(dist, VOCAB, rule, host, u);
                host.accept(want);
                int[] topIds = new int[SamplingBatch.MAX_TOP];
                float[] lp = new float[SamplingBatch.MAX_TOP + 1];
                int top = p.logprobs();
                int got = SampleRowsReference.sample(logits, 0, VOCAB, mask, counts, r, u, top, topIds, lp);
                String what = "seed " + seed + " step " + step + " mix " + c;
                assertEquals(want, got, what);
                if (top >= 0) {
                    TokenLogprob ref = Logprobs.of(dist, want, top);
                    assertEquals(ref.logprob(), lp[0], 1e-6, what + " logprob");
                    int filled = 0;
                    while (filled < topIds.length && topIds[filled] >= 0) {
                        filled++;
                    }
                    assertEquals(ref.top().size(), filled, what + " alternatives");
                    for (int j = 0; j < filled; j++) {
                        assertEquals(ref.top().get(j).tokenId(), topIds[j], what + " alternative " + j);
                        assertEquals(ref.top().get(j).logprob(), lp[j + 1], 1e-6, what + " alternative " + j);
                    }
                }
            }
        }
    }

    @Test
    void theHostsErrorsAsResultCodes() {
        float[] logits = new float[70];
        Arrays.fill(logits, Float.NEGATIVE_INFINITY);
        logits[3] = 1f;
        long[] mask = SamplingBatch.mask(70);
        mask[1] |= 1L << 2;  // allows token 66 only, whose logit is -inf
        var random = new SampleRowsReference.Rule(1.0, 1, 0, 0, 0, 0, 1);
        assertEquals(SampleRowsReference.NO_ALLOWED_TOKEN,
                SampleRowsReference.sample(logits, 0, 70, mask, null, random, 0.5, -1, new int[20], new float[21]));
        SamplingBatch b = new SamplingBatch();
        b.add(0, new io.peregrine.engine.sample.SamplingRule(1.0, 1, 0, 0, 0, 0, 1), null, 0.5, mask, -1);
        assertThrows(IllegalStateException.class, () -> new BatchSampler().sample(logits, 0, 70, 70, b));

        float[] none = new float[70];
        Arrays.fill(none, Float.NEGATIVE_INFINITY);
        assertEquals(SampleRowsReference.ALL_NEG_INF,
                SampleRowsReference.sample(none, 0, 70, null, null, random, 0.5, -1, new int[20], new float[21]));
        assertThrows(IllegalStateException.class, () -> new Sampler().sample(none, 70, b.rule(0), null, 0.5));
        // greedy over nothing: index 0 on both sides
        var greedy = new SampleRowsReference.Rule(0, 1, 0, 0, 0, 0, 1);
        assertEquals(0, SampleRowsReference.sample(none, 0, 70, null, null, greedy, 0, -1, new int[20], new float[21]));
    }
}
