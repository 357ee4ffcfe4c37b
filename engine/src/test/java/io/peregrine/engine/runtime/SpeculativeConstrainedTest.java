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
import io.peregrine.engine.spec.SpeculativeConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Constrained and penalised choices speculate and emit exactly what they emit without speculation. A forced-logits
 * model (the next token's logits a fixed function of the previous token, whatever the batch) makes seeded sampled
 * runs comparable token for token. The drafter drafts plain decoding's own continuation, corrupted at some
 * positions and at others replaced by a token the constraint forbids there, so drafts are accepted whole, in part,
 * and cut at a forbidden token (which must never reach the constraint: it throws, failing the request). Penalties
 * are strong, so counts that took a rejected row's token, or missed an accepted draft, change the next tokens.
 */
class SpeculativeConstrainedTest {
    private static final int V = 12;
    private static final int K = 4;
    private static final int MAX_TOKENS = 60;
    private static final float[][] LOGITS = new float[V][V];

    static {
        SplittableRandom r = new SplittableRandom(1717);
        for (int prev = 0; prev < V; prev++) {
            for (int t = 0; t < V; t++) {
                LOGITS[prev][t] = (float) (r.nextGaussian() * 2.0);
            }
        }
    }

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

    /**
     * A stateful rule on the output: position {@code i} (from 0) allows only even tokens when {@code i} is even,
     * never the previous token, and forces token 1 when {@code i % 7 == 6}. Throws on a token it does not allow.
     */
    private static final class Rule implements TokenConstraint {
        final boolean copyable;
        int position;
        int previous = -1;

        Rule(boolean copyable) {
            this.copyable = copyable;
        }

        static boolean allows(int position, int previous, int t) {
            if (position % 7 == 6) {
                return t == 1;
            }
            return (position % 2 != 0 || t % 2 == 0) && t != previous;
        }

        @Override
        public void mask(float[] logits) {
            for (int t = 0; t < logits.length; t++) {
                if (!allows(position, previous, t)) {
                    logits[t] = Float.NEGATIVE_INFINITY;
                }
            }
        }

        @Override
        public void accept(int t) {
            if (!allows(position, previous, t)) {
                throw new IllegalStateException("token " + t + " not allowed at " + position);
            }
            position++;
            previous = t;
        }

        @Override
        public TokenConstraint copy() {
            if (!copyable) {
                return null;
            }
            Rule c = new Rule(true);
            c.position = position;
            c.previous = previous;
            return c;
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

    private static int[] prompt(int i) {
        return new int[] {i % V, (i * 5 + 3) % V, (i * 7 + 1) % V};
    }

    private static List<SamplingParams> params() {
        List<SamplingParams> ps = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            boolean greedy = i % 2 == 0;
            // presence, frequency, repetition: each alone and together
            double presence = i % 4 < 2 ? 1.5 : 0.0;
            double frequency = i % 8 >= 4 ? 1.0 : 0.0;
            double repetition = i % 3 == 0 ? 1.4 : 1.0;
            ps.add(new SamplingParams(greedy ? 0.0 : 0.9, greedy ? 1.0 : 0.95, 0, 0.0, presence, frequency,
                    repetition, greedy ? null : 40L + i, MAX_TOKENS, List.of(), List.of(), true, 2, 1));
        }
        ps.add(SamplingParams.greedy(MAX_TOKENS)); // unpenalised, for the constrained runs
        return ps;
    }

    private static ServingEngine engine(Drafter drafter, EngineListener listener) {
        LanguageModel model = new ForcedModel();
        LatentCache cache = new LatentCache(1, 1024, 4, model.config().kvCacheWidth());
        EngineConfig cfg = new EngineConfig(new SchedulerConfig(16, 256), 4096, 1000, List.of(), false,
                drafter == null ? null : SpeculativeConfig.ngram(K, 1, 4));
        return new ServingEngine(model, cache, cfg, new FakeDecoder(), listener, drafter);
    }

    /** Every request (each prompt under each parameter set, constrained or not), in order. */
    private static List<Recorder> run(ServingEngine e, boolean constrained, boolean copyable) throws Exception {
        List<Recorder> recs = new ArrayList<>();
        List<SamplingParams> ps = params();
        for (int i = 0; i < 12; i++) {
            Recorder rec = new Recorder(1);
            GenerationRequest g = new GenerationRequest("r" + i, prompt(i), ps.get(i % ps.size()), null);
            e.submit(constrained ? g.withConstraint(choice -> new Rule(copyable)) : g, rec);
            recs.add(rec);
        }
        for (Recorder rec : recs) {
            rec.await();
        }
        return recs;
    }

    /**
     * Plain decoding's continuation of the request whose prompt the sequence starts with; every fifth position
     * corrupted (a token off by one) and every seventh from the fourth replaced by a token the rule forbids there.
     */
    private static Drafter oracle(List<Recorder> plain) {
        return (seq, tokens, promptLength, length, max, out) -> {
            for (int i = 0; i < plain.size(); i++) {
                int[] p = prompt(i);
                int[] gen = plain.get(i).tokens(0);
                if (!Arrays.equals(p, 0, 3, tokens, 0, 3)
                        || !Arrays.equals(gen, 0, length - 3, tokens, 3, length)) {
                    continue;
                }
                int n = Math.min(max, gen.length - (length - 3));
                for (int j = 0; j < n; j++) {
                    int pos = length - 3 + j;
                    int t = gen[pos];
                    int previous = pos == 0 ? -1 : gen[pos - 1];
                    if (pos % 7 == 3) {
                        t = Rule.allows(pos, previous, t ^ 1) ? previous : t ^ 1; // forbidden here
                        t = t < 0 ? 3 : t;
                    } else if (pos % 5 == 2) {
                        t = (t + 2) % V;
                    }
                    out[j] = t;
                }
                return n;
            }
            return 0;
        };
    }

    private static void assertSame(List<Recorder> plain, List<Recorder> spec, String what) {
        for (int i = 0; i < plain.size(); i++) {
            assertFalse(spec.get(i).events().stream().anyMatch(e -> e instanceof EngineEvent.Failed),
                    what + ": request " + i + " failed: " + spec.get(i).events());
            assertArrayEquals(plain.get(i).tokens(0), spec.get(i).tokens(0), what + ": request " + i);
            assertEquals(logprobs(plain.get(i)), logprobs(spec.get(i)), what + ": request " + i + " logprobs");
        }
    }

    private static List<TokenLogprob> logprobs(Recorder rec) {
        List<TokenLogprob> out = new ArrayList<>();
        for (EngineEvent e : rec.events()) {
            if (e instanceof EngineEvent.Tokens t) {
                out.addAll(t.logprobs());
            }
        }
        return out;
    }

    @Test
    void penalisedRequestsSpeculateAndEmitWhatTheyEmitWithout() throws Exception {
        List<Recorder> plain;
        try (ServingEngine e = engine(null, EngineListener.NONE)) {
            plain = run(e, false, true);
        }
        Counting counting = new Counting();
        List<Recorder> spec;
        try (ServingEngine e = engine(oracle(plain), counting)) {
            spec = run(e, false, true);
            EngineHarness.awaitIdle(e);
            assertEquals(0, e.usedBlocks());
        }
        assertSame(plain, spec, "penalised");
        assertTrue(counting.accepted.get() > 0 && counting.accepted.get() < counting.draftTokens.get(),
                counting.accepted + " of " + counting.draftTokens + " accepted");
    }

    @Test
    void constrainedRequestsSpeculateNeverEmitAForbiddenDraftAndEmitWhatTheyEmitWithout() throws Exception {
        List<Recorder> plain;
        try (ServingEngine e = engine(null, EngineListener.NONE)) {
            plain = run(e, true, true);
        }
        for (Recorder r : plain) {
            int[] t = r.tokens(0);
            for (int i = 0; i < t.length; i++) {
                assertTrue(Rule.allows(i, i == 0 ? -1 : t[i - 1], t[i]), "plain decoding broke the rule");
            }
        }
        Counting counting = new Counting();
        List<Recorder> spec;
        try (ServingEngine e = engine(oracle(plain), counting)) {
            spec = run(e, true, true);
        }
        assertSame(plain, spec, "constrained");
        assertTrue(counting.accepted.get() > 0 && counting.accepted.get() < counting.draftTokens.get(),
                counting.accepted + " of " + counting.draftTokens + " accepted");
    }

    @Test
    void aConstraintThatCannotBeCopiedDecodesWithoutSpeculation() throws Exception {
        List<Recorder> plain;
        try (ServingEngine e = engine(null, EngineListener.NONE)) {
            plain = run(e, true, false);
        }
        Counting counting = new Counting();
        List<Recorder> spec;
        try (ServingEngine e = engine(oracle(plain), counting)) {
            spec = run(e, true, false);
        }
        assertSame(plain, spec, "uncopyable constraint");
        assertEquals(0, counting.draftTokens.get(), "a choice whose constraint cannot be copied speculated");
    }
}
