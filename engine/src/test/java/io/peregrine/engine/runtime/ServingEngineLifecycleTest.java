package io.peregrine.engine.runtime;

import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.sample.Logprobs;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sample.TokenLogprob;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

import static io.peregrine.engine.runtime.EngineHarness.awaitIdle;
import static io.peregrine.engine.runtime.EngineHarness.engine;
import static io.peregrine.engine.runtime.EngineHarness.expected;
import static io.peregrine.engine.runtime.EngineHarness.greedy;
import static io.peregrine.engine.runtime.EngineHarness.randomPrompt;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Stops, limits, rejections, deadlines, failures, metrics and shutdown. */
class ServingEngineLifecycleTest {
    private static final int[] PROMPT = {1, 2, 3, 4, 5, 6, 7};

    private static SamplingParams stopping(int maxTokens, List<String> stop, List<Integer> stopIds, boolean ignoreEos,
                                           int logprobs) {
        return new SamplingParams(0.0, 1.0, 0, 0.0, 0.0, 0.0, 1.0, null, maxTokens, stop, stopIds, ignoreEos,
                logprobs, 1);
    }

    @Test
    void stopTokenIdEosAndIgnoreEos() throws Exception {
        int[] free = expected(PROMPT, greedy(30), 0, Set.of());
        int stopAt = 6;
        int token = free[stopAt];
        int firstAt = 0;
        while (free[firstAt] != token) {
            firstAt++;
        }
        FakeLanguageModel model = new FakeLanguageModel();
        try (ServingEngine engine = engine(model, 64, 4, 8, 64, 100, List.of(token), EngineListener.NONE)) {
            Recorder eos = new Recorder(1);
            engine.submit(new GenerationRequest("eos", PROMPT, greedy(30), null), eos);
            eos.await();
            assertEquals(firstAt + 1, eos.tokens(0).length);
            assertEquals(FinishReason.STOP, eos.finished(0).reason());
            assertNull(eos.finished(0).stopReason());

            Recorder ignored = new Recorder(1);
            engine.submit(new GenerationRequest("ign", PROMPT, stopping(30, List.of(), List.of(), true, -1), null),
                    ignored);
            assertArrayEquals(free, ignored.await().tokens(0));
            assertEquals(FinishReason.LENGTH, ignored.finished(0).reason());

            Recorder byId = new Recorder(1);
            engine.submit(new GenerationRequest("id", PROMPT,
                    stopping(30, List.of(), List.of(token), true, -1), null), byId);
            byId.await();
            assertEquals(firstAt + 1, byId.tokens(0).length);
            assertEquals(new StopReason.StopToken(token), byId.finished(0).stopReason());
            // the stop token's own text is not sent
            FakeDecoder d = new FakeDecoder();
            assertEquals(d.decode(java.util.Arrays.copyOf(free, firstAt)), byId.text(0));
        }
    }

    @Test
    void stopStringSpanningTokensCutsTheText() throws Exception {
        int[] free = expected(PROMPT, greedy(30), 0, Set.of());
        String full = new FakeDecoder().decode(free);
        // a stop string that starts inside one token's text and ends inside a later one
        String stop = full.substring(5, 9);
        String want = full.substring(0, full.indexOf(stop));
        FakeLanguageModel model = new FakeLanguageModel();
        try (ServingEngine engine = engine(model, 64, 4)) {
            Recorder rec = new Recorder(1);
            engine.submit(new GenerationRequest("s", PROMPT, stopping(30, List.of("zzzz", stop), List.of(), false, -1),
                    null), rec);
            rec.await();
            assertEquals(want, rec.text(0));
            assertEquals(FinishReason.STOP, rec.finished(0).reason());
            assertEquals(new StopReason.StopString(stop), rec.finished(0).stopReason());
            assertTrue(rec.tokens(0).length < free.length);
        }
    }

    @Test
    void logprobsAreTheModelsOwnDistribution() throws Exception {
        FakeLanguageModel model = new FakeLanguageModel();
        try (ServingEngine engine = engine(model, 64, 4)) {
            Recorder rec = new Recorder(1);
            engine.submit(new GenerationRequest("lp", PROMPT, stopping(4, List.of(), List.of(), false, 3), null), rec);
            rec.await();
            int[] toks = rec.tokens(0);
            int[] all = EngineHarness.concat(PROMPT, toks);
            int i = 0;
            for (EngineEvent e : rec.events()) {
                if (e instanceof EngineEvent.Tokens t) {
                    assertEquals(1, t.logprobs().size());
                    TokenLogprob lp = t.logprobs().getFirst();
                    TokenLogprob want = Logprobs.of(FakeLanguageModel.reference(all, PROMPT.length + i), toks[i], 3);
                    assertEquals(want, lp);
                    assertEquals(3, lp.top().size());
                    assertEquals(toks[i], lp.top().getFirst().tokenId(), "greedy picks the top alternative");
                    i++;
                }
            }
            assertEquals(4, i);
        }
    }

    @Test
    void rejectsWhatCanNeverFitAndWhatOverflowsTheQueue() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        FakeLanguageModel model = new FakeLanguageModel() {
            @Override
            public List<float[][]> forward(List<SequenceSlice> batch, LatentCache cache) {
                entered.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return super.forward(batch, cache);
            }
        };
        // 8 blocks of 4 = 32 slots, queue of 2
        try (ServingEngine engine = engine(model, 8, 4, 8, 64, 2, List.of(), EngineListener.NONE)) {
            RejectedException tooBig = assertThrows(RejectedException.class, () -> engine.submit(
                    new GenerationRequest("big", new int[30], greedy(3), null), new Recorder(1)));
            assertEquals(RejectedException.Kind.TOO_LARGE, tooBig.kind());
            assertTrue(tooBig.getMessage().contains("KV cache"), tooBig.getMessage());
            assertThrows(IllegalArgumentException.class, () -> engine.submit(
                    new GenerationRequest("bad", new int[] {1, 64}, greedy(3), null), new Recorder(1)));

            Recorder first = new Recorder(1);
            engine.submit(new GenerationRequest("1", PROMPT, greedy(2), null), first);
            assertTrue(entered.await(10, TimeUnit.SECONDS));
            Recorder second = new Recorder(1);
            Recorder third = new Recorder(1);
            engine.submit(new GenerationRequest("2", PROMPT, greedy(2), null), second);
            engine.submit(new GenerationRequest("3", PROMPT, greedy(2), null), third);
            assertEquals(2, engine.stats().waiting());
            RejectedException full = assertThrows(RejectedException.class, () -> engine.submit(
                    new GenerationRequest("4", PROMPT, greedy(2), null), new Recorder(1)));
            assertEquals(RejectedException.Kind.QUEUE_FULL, full.kind());
            release.countDown();
            first.await();
            second.await();
            third.await();
            assertArrayEquals(first.tokens(0), third.tokens(0));
        }
        FakeLanguageModel small = new FakeLanguageModel();
        try (ServingEngine engine = new ServingEngine(small, new LatentCache(2, 64, 4, 4),
                new EngineConfig(new io.peregrine.engine.sched.SchedulerConfig(4, 64), 16, 10, List.of(), false),
                new FakeDecoder(), EngineListener.NONE)) {
            RejectedException ctx = assertThrows(RejectedException.class, () -> engine.submit(
                    new GenerationRequest("ctx", new int[10], greedy(7), null), new Recorder(1)));
            assertEquals(RejectedException.Kind.TOO_LARGE, ctx.kind());
            assertTrue(ctx.getMessage().contains("context length"), ctx.getMessage());
        }
    }

    @Test
    void deadlinesEndRequestsWithTimeout() throws Exception {
        FakeLanguageModel model = FakeLanguageModel.slowedBy(2);
        try (ServingEngine engine = engine(model, 512, 4)) {
            Recorder rec = new Recorder(1);
            engine.submit(new GenerationRequest("t", PROMPT, stopping(2000, List.of(), List.of(), true, -1),
                    Instant.now().plusMillis(60)), rec);
            rec.await();
            assertEquals(FinishReason.TIMEOUT, rec.finished(0).reason());
            assertTrue(rec.tokens(0).length < 2000);
            awaitIdle(engine);
            assertEquals(0, engine.stats().kvBlocksUsed());
        }
    }

    @Test
    void aFailingStepFailsItsRequestsAndTheEngineGoesOn() throws Exception {
        FakeLanguageModel model = new FakeLanguageModel();
        model.poison = t -> t == 40;
        List<String> failed = Collections.synchronizedList(new ArrayList<>());
        EngineListener l = new EngineListener() {
            @Override
            public void failed(String requestId, String message) {
                failed.add(requestId);
            }
        };
        try (ServingEngine engine = engine(model, 64, 4, 8, 64, 100, List.of(), l)) {
            Recorder bad = new Recorder(1);
            engine.submit(new GenerationRequest("bad", new int[] {1, 40, 2}, greedy(5), null), bad);
            bad.await();
            EngineEvent last = bad.events().getLast();
            assertInstanceOf(EngineEvent.Failed.class, last);
            assertTrue(((EngineEvent.Failed) last).message().contains("poisoned"));
            assertEquals(List.of("bad"), failed);

            Recorder good = new Recorder(1);
            engine.submit(new GenerationRequest("good", PROMPT, greedy(5), null), good);
            good.await();
            assertArrayEquals(expected(PROMPT, greedy(5), 0, Set.of()), good.tokens(0));
            awaitIdle(engine);
            assertEquals(0, engine.stats().kvBlocksUsed());
        }
    }

    @Test
    void aThrowingSinkOnlyLosesItsOwnRequest() throws Exception {
        FakeLanguageModel model = new FakeLanguageModel();
        try (ServingEngine engine = engine(model, 64, 4)) {
            engine.submit(new GenerationRequest("boom", PROMPT, greedy(50), null), e -> {
                throw new IllegalStateException("client gone");
            });
            Recorder good = new Recorder(1);
            engine.submit(new GenerationRequest("good", PROMPT, greedy(5), null), good);
            assertArrayEquals(expected(PROMPT, greedy(5), 0, Set.of()), good.await().tokens(0));
            awaitIdle(engine);
            assertEquals(0, engine.activeRequests());
            assertEquals(0, engine.stats().kvBlocksUsed());
        }
    }

    @Test
    void metricsSeeQueueTimeTtftInterTokenTimesAndPrefixHits() throws Exception {
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        EngineListener l = new EngineListener() {
            @Override
            public void scheduled(String id, long queueNanos, int prompt, int cached) {
                log.add("scheduled " + id + " " + prompt + " " + cached + " " + (queueNanos >= 0));
            }

            @Override
            public void firstToken(String id, long ttft) {
                log.add("ttft " + id + " " + (ttft > 0));
            }

            @Override
            public void interToken(String id, int choice, long nanos) {
                log.add("itl " + id + " " + (nanos > 0));
            }

            @Override
            public void finished(String id, FinishReason r, int prompt, int completion, long e2e) {
                log.add("finished " + id + " " + r + " " + prompt + " " + completion);
            }
        };
        FakeLanguageModel model = new FakeLanguageModel();
        int[] prompt = randomPrompt(new SplittableRandom(2), 18);
        try (ServingEngine engine = engine(model, 64, 4, 8, 64, 100, List.of(), l)) {
            for (String id : List.of("a", "b")) {
                Recorder rec = new Recorder(1);
                engine.submit(new GenerationRequest(id, prompt, greedy(3), null), rec);
                rec.await();
            }
            awaitIdle(engine);
            assertEquals(List.of(
                    "scheduled a 18 0 true", "ttft a true", "itl a true", "itl a true", "finished a LENGTH 18 3",
                    // 16 = the 4 full blocks of the 18-token prompt
                    "scheduled b 18 16 true", "ttft b true", "itl b true", "itl b true", "finished b LENGTH 18 3"),
                    log);
            EngineStats s = engine.stats();
            assertEquals(36, s.prefixCacheQueriedTokens());
            assertEquals(16, s.prefixCacheHitTokens());
            assertEquals(36, s.promptTokensTotal());
            assertEquals(6, s.generationTokensTotal());
            assertEquals(64, s.kvBlocksTotal());
        }
    }

    @Test
    void theNextTurnOfAConversationReusesTheGeneratedTokensToo() throws Exception {
        FakeLanguageModel model = new FakeLanguageModel();
        try (ServingEngine engine = engine(model, 64, 4)) {
            int[] turn1 = randomPrompt(new SplittableRandom(12), 9);
            Recorder a = new Recorder(1);
            engine.submit(new GenerationRequest("t1", turn1, greedy(10), null), a);
            int[] reply = a.await().tokens(0);
            int[] turn2 = EngineHarness.concat(EngineHarness.concat(turn1, reply), new int[] {1, 2, 3});
            Recorder b = new Recorder(1);
            engine.submit(new GenerationRequest("t2", turn2, greedy(4), null), b);
            b.await();
            // 19 tokens of turn 1 went through the model (the last reply token never did): 4 full blocks
            assertEquals(16, b.scheduled().cachedPromptTokens());
            assertArrayEquals(expected(turn2, greedy(4), 0, Set.of()), b.tokens(0));
        }
    }

    @Test
    void abortWhileQueuedPrefillingOrDecoding() throws Exception {
        FakeLanguageModel model = FakeLanguageModel.slowedBy(1);
        // one sequence at a time, 4 tokens a step: a 40-token prompt takes 10 steps to prefill
        try (ServingEngine engine = engine(model, 128, 4, 1, 4, 100, List.of(), EngineListener.NONE)) {
            Recorder decoding = new Recorder(1);
            RequestHandle d = engine.submit(new GenerationRequest("dec", PROMPT,
                    stopping(400, List.of(), List.of(), true, -1), null), decoding);
            Recorder queued = new Recorder(1);
            RequestHandle q = engine.submit(new GenerationRequest("q", PROMPT, greedy(3), null), queued);
            while (decoding.tokens(0).length < 3) {
                Thread.sleep(1);
            }
            q.abort();
            queued.await();
            assertEquals(List.of(new EngineEvent.Finished(0, FinishReason.ABORT, null, 0)), queued.events());
            d.abort();
            decoding.await();
            assertEquals(FinishReason.ABORT, decoding.finished(0).reason());
            int got = decoding.tokens(0).length;
            assertArrayEquals(java.util.Arrays.copyOf(expected(PROMPT, greedy(got), 0, Set.of()), got),
                    decoding.tokens(0));

            Recorder prefilling = new Recorder(1);
            int calls = model.forwardCalls.get();
            RequestHandle pr = engine.submit(new GenerationRequest("pre", randomPrompt(new SplittableRandom(1), 40),
                    greedy(3), null), prefilling);
            while (model.forwardCalls.get() < calls + 3) {
                Thread.sleep(1);
            }
            pr.abort();
            prefilling.await();
            assertEquals(0, prefilling.tokens(0).length, "aborted before its prompt was even prefilled");
            assertEquals(FinishReason.ABORT, prefilling.finished(0).reason());
            awaitIdle(engine);
            assertEquals(0, engine.stats().kvBlocksUsed());
            assertEquals(0, engine.stats().waiting());
        }
    }

    @Test
    void drainFinishesRunningWorkThenRefusesNewWork() throws Exception {
        FakeLanguageModel model = new FakeLanguageModel();
        ServingEngine engine = engine(model, 64, 4);
        Recorder rec = new Recorder(1);
        engine.submit(new GenerationRequest("d", PROMPT, greedy(20), null), rec);
        engine.drain(10_000);
        assertTrue(rec.isDone());
        assertEquals(FinishReason.LENGTH, rec.finished(0).reason());
        RejectedException r = assertThrows(RejectedException.class, () -> engine.submit(
                new GenerationRequest("late", PROMPT, greedy(2), null), new Recorder(1)));
        assertEquals(RejectedException.Kind.UNAVAILABLE, r.kind());
        engine.close();
    }

    @Test
    void drainTimeoutAndCloseAbortWhatIsLeft() throws Exception {
        FakeLanguageModel model = FakeLanguageModel.slowedBy(1);
        ServingEngine engine = engine(model, 512, 4);
        Recorder rec = new Recorder(1);
        engine.submit(new GenerationRequest("long", PROMPT, stopping(2000, List.of(), List.of(), true, -1), null), rec);
        engine.drain(30);
        rec.await();
        assertEquals(FinishReason.ABORT, rec.finished(0).reason());
        engine.close();
    }
}
