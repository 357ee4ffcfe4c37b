package io.peregrine.engine.runtime;

import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.spec.Drafter;
import io.peregrine.engine.spec.SpeculativeConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import static io.peregrine.engine.runtime.EngineHarness.awaitIdle;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Speculative decoding over the real model on the golden tiny checkpoint: greedy outputs must be token-for-token
 * those of plain decoding (and the golden ids), alone, in a mixed batch with prefill chunks, and under forced
 * preemption. Three drafters: the ngram and suffix drafters on prompts that repeat a span (they draft, but the tiny
 * checkpoint's random weights never continue a repeat, so they exercise rejection; a request asked again is drafted
 * from the suffix drafter's cache of earlier outputs, which exercises acceptance), and an oracle that drafts plain decoding's
 * own continuation with every third position or so corrupted (acceptance of whole drafts, partial acceptance and
 * rejection at every position, the bonus token, and draft blocks released on rollback).
 */
class SpeculativeGoldenTest {
    private static final int MAX_TOKENS = 40;
    private static TinyGolden tiny;
    private static List<TinyGolden.Case> golden;
    /** Prompt name to its prompt, and to plain decoding's output. */
    private static final Map<String, int[]> prompts = new LinkedHashMap<>();
    private static final Map<String, int[]> plain = new LinkedHashMap<>();

    @BeforeAll
    static void load() throws Exception {
        tiny = new TinyGolden();
        golden = TinyGolden.cases();
        SplittableRandom r = new SplittableRandom(16);
        for (int i = 0; i < 4; i++) {
            int[] span = new int[5 + 4 * i];
            for (int j = 0; j < span.length; j++) {
                span[j] = r.nextInt(TinyGolden.FIRST_SPECIAL);
            }
            int[] p = new int[1 + 3 * span.length];
            p[0] = TinyGolden.BOS;
            for (int rep = 0; rep < 3; rep++) {
                System.arraycopy(span, 0, p, 1 + rep * span.length, span.length);
            }
            prompts.put("repeat" + i, p);
        }
        for (TinyGolden.Case c : golden) {
            prompts.put(c.name(), c.prompt());
        }
        try (ServingEngine engine = tiny.engine(512, 4, 16, 64, EngineListener.NONE)) {
            for (var e : prompts.entrySet()) {
                plain.put(e.getKey(), submit(engine, e.getKey(), e.getValue()).await().tokens(0));
            }
        }
        for (TinyGolden.Case c : golden) {
            assertArrayEquals(c.greedy(), Arrays.copyOf(plain.get(c.name()), 16), c.name());
        }
    }

    @AfterAll
    static void close() {
        tiny.close();
    }

    /** Counts verification and preemption on the engine thread; read once the engine is idle. */
    private static final class Counting implements EngineListener {
        final AtomicInteger drafts = new AtomicInteger();
        final AtomicInteger draftTokens = new AtomicInteger();
        final AtomicInteger accepted = new AtomicInteger();
        final AtomicInteger preemptions = new AtomicInteger();
        final AtomicInteger maxTokensPerStep = new AtomicInteger();

        @Override
        public void speculated(int draftTokens, int accepted) {
            drafts.incrementAndGet();
            this.draftTokens.addAndGet(draftTokens);
            this.accepted.addAndGet(accepted);
        }

        @Override
        public void preempted(String requestId) {
            preemptions.incrementAndGet();
        }

        @Override
        public void step(int sequences, int tokens, long nanos) {
            maxTokensPerStep.accumulateAndGet(tokens, Math::max);
        }
    }

    private static Recorder submit(ServingEngine engine, String id, int[] prompt) throws RejectedException {
        Recorder rec = new Recorder(1);
        engine.submit(new GenerationRequest(id, prompt, SamplingParams.greedy(MAX_TOKENS), null), rec);
        return rec;
    }

    private static SpeculativeConfig ngram(int k) {
        return SpeculativeConfig.ngram(k, 1, 4);
    }

    /** Plain decoding's continuation of whichever prompt the sequence starts with, corrupted at some positions. */
    private static final Drafter ORACLE = (seq, tokens, prompt, length, max, out) -> {
        for (var e : prompts.entrySet()) {
            int[] p = e.getValue();
            int[] gen = plain.get(e.getKey());
            if (length < p.length || length > p.length + gen.length
                    || !Arrays.equals(p, 0, p.length, tokens, 0, p.length)
                    || !Arrays.equals(gen, 0, length - p.length, tokens, p.length, length)) {
                continue;
            }
            int n = Math.min(max, p.length + gen.length - length);
            for (int j = 0; j < n; j++) {
                int t = gen[length - p.length + j];
                // deterministic corruption: a function of the position drafted
                out[j] = (length + j) * 7 % 3 == 0 ? (t + 1) % TinyGolden.FIRST_SPECIAL : t;
            }
            return n;
        }
        return 0;
    };

    private static ServingEngine engine(String drafter, int k, int blocks, int maxRunning, int budget,
                                        Counting counting) {
        return switch (drafter) {
            case "oracle" -> tiny.engine(blocks, 4, maxRunning, budget, counting, ngram(k), ORACLE);
            case "suffix" -> tiny.engine(blocks, 4, maxRunning, budget, counting, SpeculativeConfig.suffix(k));
            default -> tiny.engine(blocks, 4, maxRunning, budget, counting, ngram(k));
        };
    }

    private static void assertPlain(Map<String, Recorder> runs, String what) throws InterruptedException {
        for (var e : runs.entrySet()) {
            assertArrayEquals(plain.get(e.getKey()), e.getValue().await().tokens(0), what + ": " + e.getKey());
            assertEquals(FinishReason.LENGTH, e.getValue().finished(0).reason(), what + ": " + e.getKey());
        }
    }

    private static void assertIdle(ServingEngine engine) throws InterruptedException {
        awaitIdle(engine);
        assertEquals(0, engine.activeRequests(), "requests still active");
        assertEquals(0, engine.stats().kvBlocksUsed(), "blocks still referenced");
        assertEquals(0, engine.usedBlocks());
    }

    private static void assertDrafted(String drafter, Counting counting, String what) {
        assertTrue(counting.drafts.get() > 0, what + ": nothing was drafted");
        assertTrue(counting.accepted.get() <= counting.draftTokens.get());
        if (drafter.equals("oracle")) {
            assertTrue(counting.accepted.get() > 0, what + ": no draft token was accepted");
            assertTrue(counting.accepted.get() < counting.draftTokens.get(), what + ": no draft token was rejected");
        }
    }

    static Stream<Arguments> cases() {
        return Stream.of("ngram", "suffix", "oracle").flatMap(d -> IntStream.of(1, 3, 5).mapToObj(k -> Arguments.of(d, k)));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void aloneEachRequestMatchesPlainDecoding(String drafter, int k) throws Exception {
        Counting counting = new Counting();
        try (ServingEngine engine = engine(drafter, k, 512, 16, 64, counting)) {
            for (var e : prompts.entrySet()) {
                assertPlain(Map.of(e.getKey(), submit(engine, e.getKey(), e.getValue())), drafter + " alone, k=" + k);
                assertIdle(engine);
            }
        }
        assertDrafted(drafter, counting, drafter + " alone, k=" + k);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void inAMixedBatchWithPrefillChunksEveryRequestMatchesPlainDecoding(String drafter, int k) throws Exception {
        Counting counting = new Counting();
        // a 24-token budget: the 300-token prompt prefills in chunks while the others speculate beside it
        try (ServingEngine engine = engine(drafter, k, 512, 16, 24, counting)) {
            Map<String, Recorder> runs = new LinkedHashMap<>();
            for (var e : prompts.entrySet()) {
                runs.put(e.getKey(), submit(engine, e.getKey(), e.getValue()));
            }
            assertPlain(runs, drafter + " batched, k=" + k);
            assertTrue(counting.maxTokensPerStep.get() <= 24, "step budget exceeded");
            assertIdle(engine);
        }
        assertDrafted(drafter, counting, drafter + " batched, k=" + k);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void underForcedPreemptionEveryRequestMatchesPlainDecoding(String drafter, int k) throws Exception {
        Counting counting = new Counting();
        // 100 blocks of 4 slots; together the requests need more (the 300-token case alone 85)
        try (ServingEngine engine = engine(drafter, k, 100, 8, 32, counting)) {
            Map<String, Recorder> runs = new LinkedHashMap<>();
            List<String> names = new ArrayList<>(prompts.keySet());
            for (String name : names.reversed()) {
                runs.put(name, submit(engine, name, prompts.get(name)));
            }
            assertPlain(runs, drafter + " preempted, k=" + k);
            assertIdle(engine);
        }
        assertTrue(counting.preemptions.get() > 0, "the cache never ran out; the test does not test preemption");
        assertDrafted(drafter, counting, drafter + " preempted, k=" + k);
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 3, 5})
    void aRepeatedRequestIsDraftedFromTheSuffixCacheAndAccepted(int k) throws Exception {
        Counting counting = new Counting();
        Drafter suffix = SpeculativeConfig.suffix(k).drafter();
        java.util.Set<Long> open = new java.util.HashSet<>(); // sequences drafted for and not yet ended
        Drafter tracked = new Drafter() {
            @Override
            public int propose(long seq, int[] tokens, int prompt, int length, int max, int[] out) {
                open.add(seq);
                return suffix.propose(seq, tokens, prompt, length, max, out);
            }

            @Override
            public void finished(long seq, int[] tokens, int prompt, int length) {
                open.remove(seq);
                suffix.finished(seq, tokens, prompt, length);
            }
        };
        try (ServingEngine engine = tiny.engine(512, 4, 16, 64, counting, SpeculativeConfig.suffix(k), tracked)) {
            for (int round = 0; round < 2; round++) {
                for (var e : prompts.entrySet()) {
                    assertPlain(Map.of(e.getKey(), submit(engine, e.getKey(), e.getValue())), "suffix again, k=" + k);
                    assertIdle(engine);
                }
            }
        }
        assertTrue(open.isEmpty(), "the drafter was never told these sequences ended: " + open);
        // the second time, each output is in the global tree: greedy decoding repeats it, so drafts are accepted
        assertTrue(counting.accepted.get() > counting.draftTokens.get() / 4,
                "accepted " + counting.accepted + " of " + counting.draftTokens + " draft tokens");
    }
}
