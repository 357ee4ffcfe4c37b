package io.peregrine.engine.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.peregrine.engine.sample.Logprobs;
import io.peregrine.engine.sample.PenaltyState;
import io.peregrine.engine.sample.Sampler;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sample.TokenLogprob;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Sampling in the backend against the host sampler it replaced, for every usable backend: many seeds, every
 * parameter mix the API accepts (greedy, temperature, top-k, top-p, min-p, the three penalties, logprobs), rows with
 * and without a constraint's bitmask, siblings sharing a logits row, and twelve steps so the counts the backend keeps
 * accumulate. The same tokens, and logprobs within 1e-6.
 */
class BackendSamplingTest {
    static final int VOCAB = 1003;
    static final int STEPS = 12;

    static Stream<Named<Supplier<Backend>>> backends() {
        return BackendContractTest.backends();
    }

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
    };

    @ParameterizedTest
    @MethodSource("backends")
    void theSameTokensAndLogprobsAsTheHostSampler(Supplier<Backend> make) {
        try (Backend b = make.get()) {
            for (long seed = 0; seed < 40; seed++) {
                run(b, seed);
            }
        }
    }

    private static void run(Backend b, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed * 7919 + 1);
        int choices = 6;
        SamplingParams[] params = new SamplingParams[choices];
        PenaltyState[] hostCounts = new PenaltyState[choices];
        TokenCounts[] counts = new TokenCounts[choices];
        SplittableRandom[] hostRng = new SplittableRandom[choices];
        SplittableRandom[] rng = new SplittableRandom[choices];
        boolean[] constrained = new boolean[choices];
        for (int c = 0; c < choices; c++) {
            double[] m = MIXES[(int) ((seed + c) % MIXES.length)];
            params[c] = new SamplingParams(m[0], m[1], (int) m[2], m[3], m[4], m[5], m[6], seed + c, 16, List.of(),
                    List.of(), false, (int) m[7], 1);
            int[] prompt = rnd.ints(5 + c, 0, VOCAB).toArray();
            hostCounts[c] = new PenaltyState(prompt, prompt.length);
            counts[c] = b.tokenCounts(prompt, prompt.length);
            hostRng[c] = new SplittableRandom(seed * 31 + c);
            rng[c] = new SplittableRandom(seed * 31 + c);
            constrained[c] = c % 3 == 1;
        }
        Sampler sampler = new Sampler();
        SamplingBatch batch = new SamplingBatch();
        int logitRows = 4;
        Activation logits = b.allocate(logitRows + 1, VOCAB + 8).rows(1, logitRows).cols(4, VOCAB);
        float[] host = new float[logitRows * VOCAB];
        for (int step = 0; step < STEPS; step++) {
            for (int i = 0; i < host.length; i++) {
                host[i] = (float) (rnd.nextGaussian() * 3);
            }
            b.copyIn(host, 0, logits);
            batch.clear();
            long[][] masks = new long[choices][];
            for (int c = 0; c < choices; c++) {
                if (constrained[c]) {
                    masks[c] = SamplingBatch.mask(VOCAB);
                    for (int t = 0; t < VOCAB; t++) {
                        if (rnd.nextInt(10) < 3 || t == step) {
                            masks[c][t >>> 6] |= 1L << t;
                        }
                    }
                }
                var rule = params[c].rule();
                // choices 4 and 5 share logits rows with 0 and 1, as an n > 1 request's siblings do
                batch.add(c % logitRows, rule, counts[c], rule.greedy() ? 0.0 : rng[c].nextDouble(), masks[c],
                        params[c].logprobs());
            }
            b.sample(logits, batch);
            for (int c = 0; c < choices; c++) {
                float[] dist = Arrays.copyOfRange(host, (c % logitRows) * VOCAB, (c % logitRows + 1) * VOCAB);
                if (masks[c] != null) {
                    for (int t = 0; t < VOCAB; t++) {
                        if (!SamplingBatch.allows(masks[c], t)) {
                            dist[t] = Float.NEGATIVE_INFINITY;
                        }
                    }
                }
                int want = sampler.sample(dist, params[c], hostCounts[c], hostRng[c]);
                hostCounts[c].accept(want);
                String what = "seed " + seed + " step " + step + " choice " + c + " " + params[c];
                assertEquals(want, batch.token(c), what);
                if (params[c].logprobs() >= 0) {
                    TokenLogprob lp = Logprobs.of(dist, want, params[c].logprobs());
                    assertEquals(lp.logprob(), batch.logprob(c), 1e-6, what + " logprob");
                    assertEquals(lp.top().size(), batch.topCount(c), what + " alternatives");
                    for (int j = 0; j < lp.top().size(); j++) {
                        assertEquals(lp.top().get(j).tokenId(), batch.topId(c, j), what + " alternative " + j);
                        assertEquals(lp.top().get(j).logprob(), batch.topLogprob(c, j), 1e-6, what + " alternative " + j);
                    }
                }
            }
        }
    }
}
