package io.peregrine.engine.runtime;

import static io.peregrine.engine.runtime.EngineHarness.awaitIdle;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sample.TokenLogprob;
import io.peregrine.engine.spec.Drafter;
import io.peregrine.engine.spec.SpeculativeConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Under {@code --batch-invariant}, speculation changes nothing, bit for bit: a verification row computes its token
 * exactly as the plain decode step would (the absorbed form over its own causal context, one-token kernels), so the
 * emitted tokens and their logprobs equal plain decoding's on the golden tiny checkpoint.
 */
class SpeculativeBatchInvariantTest {
    private static final int MAX_TOKENS = 24;
    private static final SamplingParams GREEDY_WITH_LOGPROBS = new SamplingParams(0.0, 1.0, 0, 0.0, 0.0, 0.0, 1.0,
            null, MAX_TOKENS, List.of(), List.of(), true, 3, 1);
    private static TinyGolden tiny;
    private static final Map<String, int[]> prompts = new LinkedHashMap<>();
    private static final Map<String, int[]> plainTokens = new LinkedHashMap<>();
    private static final Map<String, List<TokenLogprob>> plainLogprobs = new LinkedHashMap<>();

    @BeforeAll
    static void plainDecoding() throws Exception {
        tiny = new TinyGolden(true);
        for (TinyGolden.Case c : TinyGolden.cases()) {
            prompts.put(c.name(), c.prompt());
        }
        try (ServingEngine engine = tiny.engine(512, 4, 8, 64, EngineListener.NONE)) {
            for (var e : prompts.entrySet()) {
                Recorder rec = submit(engine, e.getKey(), e.getValue()).await();
                plainTokens.put(e.getKey(), rec.tokens(0));
                plainLogprobs.put(e.getKey(), logprobs(rec));
            }
        }
    }

    @AfterAll
    static void close() {
        tiny.close();
    }

    /** Plain decoding's own continuation, wrong at every fourth drafted position (so rejections happen too). */
    private static final Drafter ORACLE = (seq, tokens, prompt, length, max, out) -> {
        for (var e : prompts.entrySet()) {
            int[] p = e.getValue();
            int[] gen = plainTokens.get(e.getKey());
            if (length < p.length || length > p.length + gen.length
                    || !Arrays.equals(p, 0, p.length, tokens, 0, p.length)
                    || !Arrays.equals(gen, 0, length - p.length, tokens, p.length, length)) {
                continue;
            }
            int n = Math.min(max, p.length + gen.length - length);
            for (int j = 0; j < n; j++) {
                int t = gen[length - p.length + j];
                out[j] = (length + j) % 4 == 0 ? (t + 1) % TinyGolden.FIRST_SPECIAL : t;
            }
            return n;
        }
        return 0;
    };

    @Test
    void speculatingEmitsPlainDecodingsTokensAndLogprobsBitForBit() throws Exception {
        AtomicInteger accepted = new AtomicInteger();
        EngineListener counting = new EngineListener() {
            @Override
            public void speculated(int draftTokens, int acceptedTokens) {
                accepted.addAndGet(acceptedTokens);
            }
        };
        try (ServingEngine engine = tiny.engine(512, 4, 8, 64, counting,
                SpeculativeConfig.ngram(3, 1, 4), ORACLE)) {
            List<Recorder> runs = new ArrayList<>();
            for (var e : prompts.entrySet()) {
                runs.add(submit(engine, e.getKey(), e.getValue()));
            }
            int i = 0;
            for (var e : prompts.entrySet()) {
                Recorder rec = runs.get(i++).await();
                assertArrayEquals(plainTokens.get(e.getKey()), rec.tokens(0), e.getKey());
                assertEquals(plainLogprobs.get(e.getKey()), logprobs(rec), e.getKey() + ": logprobs");
            }
            awaitIdle(engine);
        }
        assertTrue(accepted.get() > 0, "no draft token was accepted: the test does not test verification");
    }

    private static Recorder submit(ServingEngine engine, String id, int[] prompt) throws RejectedException {
        Recorder rec = new Recorder(1);
        engine.submit(new GenerationRequest(id, prompt, GREEDY_WITH_LOGPROBS, null), rec);
        return rec;
    }

    private static List<TokenLogprob> logprobs(Recorder rec) {
        return rec.events().stream()
                .filter(e -> e instanceof EngineEvent.Tokens t && t.choice() == 0)
                .flatMap(e -> ((EngineEvent.Tokens) e).logprobs().stream())
                .toList();
    }
}
