package io.peregrine.engine.runtime;

import io.peregrine.engine.config.RopeScaling;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.LanguageModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sample.TokenLogprob;
import io.peregrine.engine.sched.SchedulerConfig;
import io.peregrine.engine.spec.Drafter;
import io.peregrine.engine.spec.NgramDrafter;
import io.peregrine.engine.spec.SpeculativeConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sampled requests under speculative decoding. (1) A forced-distribution model (vocabulary 8, the next token's
 * logits a fixed function of the previous token) gives the emitted tokens' distribution, which a chi-square test
 * compares with the target's (temperature, top-k, top-p as the plain sampler applies them) at significance 0.001,
 * for a drafter that is always wrong (drafts a token the target never emits), one that drafts the mode (accepted
 * with probability p(mode), so both branches of the rejection rule run), and one that is always right (drafts what
 * the seeded target draws). (2) On the cache-reading fake model, seeded sampled requests (n = 2, logprobs) emit
 * exactly the tokens and logprobs they emit without speculation: every emitted token gets the draw it would get.
 */
class SpeculativeSamplingTest {
    private static final int V = 8;
    private static final int K = 4;
    private static final int REQUESTS = 24;
    private static final int MAX_TOKENS = 200;
    /** Tokens 6 and 7 have logit -20 after every token: outside top-k, never emitted. */
    private static final float[][] LOGITS = new float[V][V];

    static {
        SplittableRandom r = new SplittableRandom(1616);
        for (int prev = 0; prev < V; prev++) {
            for (int t = 0; t < V; t++) {
                LOGITS[prev][t] = t >= 6 ? -20f : (float) (r.nextGaussian() * 1.5);
            }
        }
    }

    private static SamplingParams rule(long seed, int n) {
        return new SamplingParams(0.8, 0.9, 5, 0.0, 0.0, 0.0, 1.0, seed, MAX_TOKENS, List.of(), List.of(), true, -1,
                n);
    }

    /** The next token's logits are {@code LOGITS[previous token]}; writes no latents (none are read). */
    private static final class ForcedModel implements LanguageModel {
        private final TextConfig config = new TextConfig(V, 8, 8, 8, 1, 1, 0, 3, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1,
                false, 1.0, "sigmoid", "noaux_tc", 1e-6, 10000, RopeScaling.NONE, 4096, 0, 1, 0, false);

        @Override
        public TextConfig config() {
            return config;
        }

        @Override
        public List<float[][]> forward(List<SequenceSlice> batch, LatentCache cache) {
            List<float[][]> out = new ArrayList<>(batch.size());
            for (SequenceSlice s : batch) {
                int from = s.allLogits() ? 0 : s.tokens().length - 1;
                float[][] rows = new float[s.tokens().length - from][];
                for (int j = from; j < s.tokens().length; j++) {
                    rows[j - from] = LOGITS[s.tokens()[j]].clone();
                }
                out.add(rows);
            }
            return out;
        }
    }

    private static final class Counting implements EngineListener {
        final AtomicInteger draftTokens = new AtomicInteger();
        final AtomicInteger accepted = new AtomicInteger();

        @Override
        public void speculated(int draftTokens, int accepted) {
            this.draftTokens.addAndGet(draftTokens);
            this.accepted.addAndGet(accepted);
        }
    }

    private static ServingEngine engine(LanguageModel model, Drafter drafter, EngineListener listener) {
        LatentCache cache = new LatentCache(model.config().numHiddenLayers(), 2048, 4,
                model.config().kvCacheWidth());
        EngineConfig cfg = new EngineConfig(new SchedulerConfig(16, 256), 4096, 1000, List.of(), false,
                drafter == null ? null : SpeculativeConfig.ngram(K, 1, 4));
        return new ServingEngine(model, cache, cfg, new FakeDecoder(), listener, drafter);
    }

    private static int[] prompt(int i) {
        return new int[] {i % 6, (i / 6) % 6, 5 - i % 6};
    }

    /** Every choice's tokens, request by request. */
    private static List<int[]> run(ServingEngine engine, int n) throws Exception {
        List<Recorder> recs = new ArrayList<>();
        for (int i = 0; i < REQUESTS; i++) {
            Recorder rec = new Recorder(n);
            engine.submit(new GenerationRequest("r" + i, prompt(i), rule(100 + i, n), null), rec);
            recs.add(rec);
        }
        List<int[]> out = new ArrayList<>();
        for (Recorder rec : recs) {
            rec.await();
            for (int c = 0; c < n; c++) {
                out.add(rec.tokens(c));
            }
        }
        return out;
    }

    /** The target's distribution after {@code prev}: softmax(l / T), top-k 5, then top-p 0.9 of the top-k mass. */
    static double[] target(int prev) {
        double[] w = new double[V];
        Integer[] order = new Integer[V];
        for (int t = 0; t < V; t++) {
            w[t] = Math.exp(LOGITS[prev][t] / 0.8);
            order[t] = t;
        }
        Arrays.sort(order, (a, b) -> Double.compare(w[b], w[a]));
        double mass = 0;
        for (int i = 0; i < 5; i++) {
            mass += w[order[i]];
        }
        double[] p = new double[V];
        double cum = 0;
        for (int i = 0; i < 5 && cum < 0.9 * mass; i++) {
            p[order[i]] = w[order[i]];
            cum += w[order[i]];
        }
        for (int t = 0; t < V; t++) {
            p[t] /= cum;
        }
        return p;
    }

    /**
     * Pearson's chi-square of the (previous, next) token counts against {@link #target}; fails on any token the
     * target never emits, and when the statistic exceeds the 0.001 critical value for its degrees of freedom
     * (Wilson–Hilferty; the runs are seeded, so the test is deterministic).
     */
    private static void assertTargetDistribution(List<int[]> outputs, int[] lastPrompt, String what) {
        long[][] counts = new long[V][V];
        int total = 0;
        for (int i = 0; i < outputs.size(); i++) {
            int[] out = outputs.get(i);
            int prev = lastPrompt[i];
            for (int t : out) {
                counts[prev][t]++;
                prev = t;
                total++;
            }
        }
        double chi2 = 0;
        int df = 0;
        for (int prev = 0; prev < V; prev++) {
            long n = Arrays.stream(counts[prev]).sum();
            if (n == 0) {
                continue;
            }
            double[] p = target(prev);
            int support = 0;
            for (int t = 0; t < V; t++) {
                if (p[t] == 0) {
                    assertEquals(0, counts[prev][t], what + ": token " + t + " after " + prev + " has target p = 0");
                    continue;
                }
                support++;
                double e = n * p[t];
                chi2 += (counts[prev][t] - e) * (counts[prev][t] - e) / e;
            }
            df += support - 1;
        }
        double z = 3.0902; // upper 0.001 quantile of the standard normal
        double h = 2.0 / (9 * df);
        double critical = df * Math.pow(1 - h + z * Math.sqrt(h), 3);
        assertEquals(REQUESTS * MAX_TOKENS * (outputs.size() / REQUESTS), total, what + ": tokens emitted");
        assertTrue(chi2 < critical, what + ": chi-square " + chi2 + " >= " + critical + " (df " + df + ")");
    }

    private static int[] lastPromptTokens(int n) {
        int[] last = new int[REQUESTS * n];
        for (int i = 0; i < last.length; i++) {
            last[i] = prompt(i / n)[2];
        }
        return last;
    }

    @Test
    void emittedTokensFollowTheTargetDistributionWhateverTheDrafter() throws Exception {
        ForcedModel model = new ForcedModel();
        List<int[]> plain;
        try (ServingEngine e = engine(model, null, EngineListener.NONE)) {
            plain = run(e, 2);
        }
        assertTargetDistribution(plain, lastPromptTokens(2), "plain (control)");

        Drafter wrong = (seq, tokens, prompt, length, max, out) -> {
            Arrays.fill(out, 0, max, 7);
            return max;
        };
        Drafter mode = (seq, tokens, prompt, length, max, out) -> {
            int prev = tokens[length - 1];
            for (int j = 0; j < max; j++) {
                double[] p = target(prev);
                int best = 0;
                for (int t = 1; t < V; t++) {
                    best = p[t] > p[best] ? t : best;
                }
                out[j] = best;
                prev = best;
            }
            return max;
        };
        for (var d : List.of(new Object[] {"always wrong", wrong}, new Object[] {"mode", mode})) {
            Counting counting = new Counting();
            List<int[]> out;
            try (ServingEngine e = engine(model, (Drafter) d[1], counting)) {
                out = run(e, 2);
            }
            assertTargetDistribution(out, lastPromptTokens(2), (String) d[0]);
            assertTrue(counting.draftTokens.get() > 0, d[0] + ": nothing drafted");
            if (d[1] == wrong) {
                assertEquals(0, counting.accepted.get(), "a token of target probability 0 was accepted");
            } else {
                assertTrue(counting.accepted.get() > 0 && counting.accepted.get() < counting.draftTokens.get(),
                        "mode drafts: " + counting.accepted + " of " + counting.draftTokens + " accepted");
            }
            // the same seeded draws: with logits that do not depend on the batch, the very same tokens
            for (int i = 0; i < plain.size(); i++) {
                assertArrayEquals(plain.get(i), out.get(i), d[0] + ": choice " + i);
            }
        }
    }

    @Test
    void anAlwaysRightDrafterIsAlwaysAcceptedAndChangesNothing() throws Exception {
        ForcedModel model = new ForcedModel();
        List<int[]> plain;
        try (ServingEngine e = engine(model, null, EngineListener.NONE)) {
            plain = run(e, 1);
        }
        // drafts what the seeded target draws (each request's prompt is unique, n = 1)
        Drafter right = (seq, tokens, prompt, length, max, out) -> {
            for (int i = 0; i < REQUESTS; i++) {
                int[] p = prompt(i);
                if (Arrays.equals(p, 0, 3, tokens, 0, 3)) {
                    int n = Math.min(max, MAX_TOKENS - (length - 3));
                    System.arraycopy(plain.get(i), length - 3, out, 0, n);
                    return n;
                }
            }
            return 0;
        };
        Counting counting = new Counting();
        List<int[]> out;
        try (ServingEngine e = engine(model, right, counting)) {
            out = run(e, 1);
        }
        assertTrue(counting.draftTokens.get() > 0);
        assertEquals(counting.draftTokens.get(), counting.accepted.get(), "a right draft was rejected");
        assertTargetDistribution(out, lastPromptTokens(1), "always right");
        for (int i = 0; i < plain.size(); i++) {
            assertArrayEquals(plain.get(i), out.get(i), "always right: request " + i);
        }
    }

    @Test
    void seededSampledRequestsEmitTheSameTokensAndLogprobsAsWithoutSpeculation() throws Exception {
        SamplingParams p = new SamplingParams(1.0, 0.9, 0, 0.0, 0.0, 0.0, 1.0, 7L, 60, List.of(), List.of(), true, 3,
                2);
        // the cache-reading fake model: a rollback that left a wrong latent behind changes the logits
        List<Recorder> plain = new ArrayList<>();
        List<Recorder> spec = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(3);
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            int[] span = EngineHarness.randomPrompt(r, 6);
            prompts.add(EngineHarness.concat(EngineHarness.concat(span, span), span));
        }
        Counting counting = new Counting();
        for (var pair : List.of(new Object[] {null, plain}, new Object[] {new NgramDrafter(1, 3), spec})) {
            @SuppressWarnings("unchecked")
            List<Recorder> recs = (List<Recorder>) pair[1];
            try (ServingEngine e = engine(new FakeLanguageModel(), (Drafter) pair[0], counting)) {
                for (int i = 0; i < prompts.size(); i++) {
                    Recorder rec = new Recorder(2);
                    e.submit(new GenerationRequest("s" + i, prompts.get(i), p, null), rec);
                    recs.add(rec);
                }
                for (Recorder rec : recs) {
                    rec.await();
                }
            }
        }
        assertTrue(counting.draftTokens.get() > 0, "nothing drafted");
        for (int i = 0; i < prompts.size(); i++) {
            for (int c = 0; c < 2; c++) {
                assertArrayEquals(plain.get(i).tokens(c), spec.get(i).tokens(c), "request " + i + " choice " + c);
                assertEquals(logprobs(plain.get(i), c), logprobs(spec.get(i), c), "request " + i + " choice " + c);
            }
        }
    }

    private static List<TokenLogprob> logprobs(Recorder rec, int choice) {
        List<TokenLogprob> out = new ArrayList<>();
        for (EngineEvent e : rec.events()) {
            if (e instanceof EngineEvent.Tokens t && t.choice() == choice) {
                out.addAll(t.logprobs());
            }
        }
        return out;
    }

    @Test
    void abortsAndStopTokensMidDraftFreeEverythingAndLeaveTheOthersExact() throws Exception {
        // the cache-reading fake model, slowed so aborts land mid-run; greedy, prompts that repeat for ngram drafts
        FakeLanguageModel model = FakeLanguageModel.slowedBy(1);
        SplittableRandom r = new SplittableRandom(9);
        Counting counting = new Counting();
        try (ServingEngine e = engine(model, new NgramDrafter(1, 2), counting)) {
            List<int[]> prompts = new ArrayList<>();
            List<SamplingParams> params = new ArrayList<>();
            List<Recorder> recs = new ArrayList<>();
            List<RequestHandle> handles = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                int[] span = EngineHarness.randomPrompt(r, 3);
                prompts.add(EngineHarness.concat(EngineHarness.concat(span, span), span));
                // every third request stops on a token id, which may come in the middle of accepted drafts
                params.add(i % 3 == 1
                        ? new SamplingParams(0.0, 1.0, 0, 0.0, 0.0, 0.0, 1.0, null, 80, List.of(),
                                List.of(span[0], span[1]), false, -1, 1)
                        : SamplingParams.greedy(80));
                Recorder rec = new Recorder(1);
                handles.add(e.submit(new GenerationRequest("a" + i, prompts.get(i), params.get(i), null), rec));
                recs.add(rec);
            }
            Thread.sleep(30);
            for (int i = 0; i < 12; i += 4) {
                handles.get(i).abort();
            }
            for (int i = 0; i < 12; i++) {
                Recorder rec = recs.get(i).await();
                int[] expected = EngineHarness.expected(prompts.get(i), params.get(i), 0, java.util.Set.of());
                int[] got = rec.tokens(0);
                if (rec.finished(0).reason() == FinishReason.ABORT) {
                    assertArrayEquals(Arrays.copyOf(expected, got.length), got, "aborted request " + i + "'s prefix");
                } else {
                    assertArrayEquals(expected, got, "request " + i);
                }
            }
            EngineHarness.awaitIdle(e);
            assertEquals(0, e.usedBlocks(), "blocks still referenced");
        }
        assertTrue(counting.draftTokens.get() > 0, "nothing drafted");
    }
}
