package io.peregrine.engine.runtime;

import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.sample.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

import static io.peregrine.engine.runtime.EngineHarness.awaitIdle;
import static io.peregrine.engine.runtime.EngineHarness.concat;
import static io.peregrine.engine.runtime.EngineHarness.engine;
import static io.peregrine.engine.runtime.EngineHarness.expected;
import static io.peregrine.engine.runtime.EngineHarness.greedy;
import static io.peregrine.engine.runtime.EngineHarness.randomPrompt;
import static io.peregrine.engine.runtime.EngineHarness.seeded;
import static io.peregrine.engine.runtime.EngineHarness.withN;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Batching must not change what a request produces: the fake model reads every latent back through the cache. */
class ServingEngineBatchTest {

    private record Job(int[] prompt, SamplingParams params) {}

    private static List<Job> mixedJobs(long seed, int count, int[] sharedPrefix) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Job> jobs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] prompt = randomPrompt(r, 1 + r.nextInt(60));
            if (sharedPrefix != null && r.nextBoolean()) {
                prompt = concat(sharedPrefix, prompt);
            }
            int max = 1 + r.nextInt(30);
            SamplingParams p = switch (i % 3) {
                case 0 -> greedy(max);
                case 1 -> seeded(1000 + i, 0.9, 0.9, 0, max);
                default -> seeded(2000 + i, 1.3, 1.0, 8, max);
            };
            jobs.add(new Job(prompt, p));
        }
        return jobs;
    }

    @Test
    void greedyRunAloneMatchesTheModel() throws Exception {
        FakeLanguageModel model = new FakeLanguageModel();
        try (ServingEngine engine = engine(model, 64, 4)) {
            int[] prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
            Recorder rec = new Recorder(1);
            engine.submit(new GenerationRequest("a", prompt, greedy(20), null), rec);
            rec.await();
            int[] want = expected(prompt, greedy(20), 0, Set.of());
            assertArrayEquals(want, rec.tokens(0));
            assertEquals(FinishReason.LENGTH, rec.finished(0).reason());
            assertEquals(20, rec.finished(0).completionTokens());
            assertEquals(new FakeDecoder().decode(want), rec.text(0));
            assertEquals("peregrine-engine", rec.callingThread.getName());
        }
    }

    @Test
    void thirtyTwoConcurrentRequestsGiveWhatEachGivesAlone() throws Exception {
        int[] system = randomPrompt(new SplittableRandom(5), 37);
        List<Job> jobs = mixedJobs(42, 32, system);

        // alone: one request at a time
        List<int[]> alone = new ArrayList<>();
        FakeLanguageModel soloModel = new FakeLanguageModel();
        try (ServingEngine engine = engine(soloModel, 256, 4)) {
            for (int i = 0; i < jobs.size(); i++) {
                Recorder rec = new Recorder(1);
                engine.submit(new GenerationRequest("solo" + i, jobs.get(i).prompt(), jobs.get(i).params(), null), rec);
                alone.add(rec.await().tokens(0));
            }
        }

        // together: submitted from 4 threads, small step budget so prefills are chunked and mixed with decodes
        FakeLanguageModel model = new FakeLanguageModel();
        try (ServingEngine engine = engine(model, 256, 4, 32, 48, 1000, List.of(), EngineListener.NONE)) {
            Recorder[] recs = new Recorder[jobs.size()];
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<Future<?>> fs = new ArrayList<>();
            for (int i = 0; i < jobs.size(); i++) {
                int k = i;
                recs[k] = new Recorder(1);
                fs.add(pool.submit(() -> engine.submit(
                        new GenerationRequest("r" + k, jobs.get(k).prompt(), jobs.get(k).params(), null), recs[k])));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            pool.shutdown();
            for (int i = 0; i < jobs.size(); i++) {
                recs[i].await();
                Job j = jobs.get(i);
                assertArrayEquals(alone.get(i), recs[i].tokens(0), "request " + i + " differs in a batch");
                assertArrayEquals(expected(j.prompt(), j.params(), 0, Set.of()), recs[i].tokens(0),
                        "request " + i + " differs from the model");
            }
            assertTrue(model.maxSlicesPerCall.get() > 4, "requests were never batched together");
            assertTrue(model.maxTokensPerCall.get() <= 48, "step budget exceeded: " + model.maxTokensPerCall.get());
            awaitIdle(engine);
            EngineStats s = engine.stats();
            assertEquals(0, s.kvBlocksUsed());
            assertEquals(0, s.waiting());
            assertTrue(s.prefixCacheHitTokens() > 0, "shared system prompt never hit the prefix cache");
            long promptTotal = jobs.stream().mapToLong(j -> j.prompt().length).sum();
            assertEquals(promptTotal, s.promptTokensTotal());
            assertEquals(Arrays.stream(recs).mapToLong(r -> r.tokens(0).length).sum(), s.generationTokensTotal());
        }
    }

    @Test
    void preemptionUnderAFullCacheRecomputesCorrectly() throws Exception {
        FakeLanguageModel model = new FakeLanguageModel();
        AtomicInteger preemptions = new AtomicInteger();
        EngineListener l = new EngineListener() {
            @Override
            public void preempted(String requestId) {
                preemptions.incrementAndGet();
            }
        };
        // 16 blocks of 4 = 64 slots; 6 requests each needing up to 50 slots
        try (ServingEngine engine = engine(model, 16, 4, 8, 64, 100, List.of(), l)) {
            SplittableRandom r = new SplittableRandom(9);
            List<Job> jobs = new ArrayList<>();
            List<Recorder> recs = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Job j = new Job(randomPrompt(r, 20), i % 2 == 0 ? greedy(30) : seeded(i, 1.0, 0.95, 0, 30));
                jobs.add(j);
                Recorder rec = new Recorder(1);
                recs.add(rec);
                engine.submit(new GenerationRequest("p" + i, j.prompt(), j.params(), null), rec);
            }
            for (int i = 0; i < jobs.size(); i++) {
                recs.get(i).await();
                assertArrayEquals(expected(jobs.get(i).prompt(), jobs.get(i).params(), 0, Set.of()),
                        recs.get(i).tokens(0), "request " + i);
            }
            assertTrue(preemptions.get() > 0, "the cache was never exhausted; the test does not test preemption");
            awaitIdle(engine);
            assertEquals(0, engine.stats().kvBlocksUsed());
        }
    }

    @Test
    void randomAbortsWithSharedPrefixesEndEveryRequestAndFreeEveryBlock() throws Exception {
        int[] system = randomPrompt(new SplittableRandom(77), 41);
        List<Job> jobs = mixedJobs(4242, 32, system);
        FakeLanguageModel model = new FakeLanguageModel();
        try (ServingEngine engine = engine(model, 96, 4, 12, 40, 1000, List.of(), EngineListener.NONE)) {
            SplittableRandom r = new SplittableRandom(1);
            Recorder[] recs = new Recorder[jobs.size()];
            RequestHandle[] handles = new RequestHandle[jobs.size()];
            boolean[] aborted = new boolean[jobs.size()];
            int immediate = 0;
            for (int i = 0; i < jobs.size(); i++) {
                recs[i] = new Recorder(1);
                handles[i] = engine.submit(
                        new GenerationRequest("x" + i, jobs.get(i).prompt(), jobs.get(i).params(), null), recs[i]);
                if (r.nextInt(3) == 0) {
                    // some right away (still queued), some after a while (prefilling or decoding)
                    int k = i;
                    aborted[k] = true;
                    long delayMicros = r.nextInt(4) == 0 ? 0 : r.nextInt(3000);
                    if (delayMicros == 0) {
                        // on this thread, while the request still waits behind the first ones: these land on any
                        // machine, however loaded (a delayed abort may come after a fast request has finished)
                        handles[k].abort();
                        handles[k].abort(); // idempotent
                        immediate++;
                        continue;
                    }
                    Thread.ofVirtual().start(() -> {
                        try {
                            Thread.sleep(delayMicros / 1000, (int) (delayMicros % 1000) * 1000);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        handles[k].abort();
                        handles[k].abort(); // idempotent
                    });
                }
            }
            int abortedSeen = 0;
            for (int i = 0; i < jobs.size(); i++) {
                recs[i].await();
                int[] want = expected(jobs.get(i).prompt(), jobs.get(i).params(), 0, Set.of());
                int[] got = recs[i].tokens(0);
                EngineEvent.Finished f = recs[i].finished(0);
                if (f.reason() == FinishReason.ABORT) {
                    assertTrue(aborted[i], "request " + i + " aborted without being asked to");
                    abortedSeen++;
                    assertArrayEquals(Arrays.copyOf(want, got.length), got, "aborted request " + i + " went wrong");
                } else {
                    assertArrayEquals(want, got, "request " + i);
                }
                assertEquals(1, recs[i].events().stream().filter(e -> e instanceof EngineEvent.Finished).count());
            }
            assertTrue(immediate > 0 && abortedSeen > 0, "no abort landed; the test does not test aborts");
            awaitIdle(engine);
            assertEquals(0, engine.stats().kvBlocksUsed());
            assertEquals(0, engine.stats().running());
            assertEquals(0, engine.activeRequests());

            // the engine still serves, and the shared prefix is still cached
            Recorder after = new Recorder(1);
            int[] prompt = concat(system, new int[] {3, 1, 4});
            engine.submit(new GenerationRequest("after", prompt, greedy(5), null), after);
            after.await();
            assertArrayEquals(expected(prompt, greedy(5), 0, Set.of()), after.tokens(0));
            assertEquals(40, after.scheduled().cachedPromptTokens());
        }
    }

    @Test
    void nChoicesShareThePromptAndEachFollowsItsOwnSeed() throws Exception {
        FakeLanguageModel model = new FakeLanguageModel();
        try (ServingEngine engine = engine(model, 64, 4)) {
            int[] prompt = randomPrompt(new SplittableRandom(3), 10); // 2 full blocks + a partial one to copy
            SamplingParams p = withN(seeded(77, 1.0, 1.0, 0, 12), 3);
            Recorder rec = new Recorder(3);
            engine.submit(new GenerationRequest("n3", prompt, p, null), rec);
            rec.await();
            for (int k = 0; k < 3; k++) {
                assertArrayEquals(expected(prompt, p, k, Set.of()), rec.tokens(k), "choice " + k);
                assertEquals(12, rec.finished(k).completionTokens());
            }
            assertNotEquals(Arrays.toString(rec.tokens(0)), Arrays.toString(rec.tokens(1)));
            assertEquals(1, model.forwardCalls.get() - 11, "the prompt was prefilled more than once");
            awaitIdle(engine);
            assertEquals(0, engine.stats().kvBlocksUsed());
        }
    }

    @Test
    void aChoiceThatFindsNoBlockToCopyRecomputesItsPrompt() throws Exception {
        FakeLanguageModel model = new FakeLanguageModel();
        // 3 blocks of 4: the 10-token prompt fills them all, so the fork has nowhere to copy its tail
        try (ServingEngine engine = engine(model, 3, 4)) {
            int[] prompt = randomPrompt(new SplittableRandom(4), 10);
            SamplingParams p = withN(seeded(5, 1.0, 1.0, 0, 2), 2);
            Recorder rec = new Recorder(2);
            engine.submit(new GenerationRequest("tight", prompt, p, null), rec);
            rec.await();
            for (int k = 0; k < 2; k++) {
                assertArrayEquals(expected(prompt, p, k, Set.of()), rec.tokens(k), "choice " + k);
            }
            awaitIdle(engine);
            assertEquals(0, engine.stats().kvBlocksUsed());
        }
    }

    @Test
    void greedyChoicesAreIdentical() throws Exception {
        FakeLanguageModel model = new FakeLanguageModel();
        try (ServingEngine engine = engine(model, 64, 4)) {
            int[] prompt = randomPrompt(new SplittableRandom(6), 13);
            Recorder rec = new Recorder(4);
            engine.submit(new GenerationRequest("g4", prompt, withN(greedy(9), 4), null), rec);
            rec.await();
            int[] want = expected(prompt, greedy(9), 0, Set.of());
            for (int k = 0; k < 4; k++) {
                assertArrayEquals(want, rec.tokens(k), "choice " + k);
            }
        }
    }

    @Test
    void theCacheIsSizedFromAByteBudget() {
        FakeLanguageModel model = new FakeLanguageModel();
        long perBlock = (long) FakeLanguageModel.LAYERS * 16 * FakeLanguageModel.WIDTH * Float.BYTES;
        LatentCache cache = ServingEngine.cacheFor(model, perBlock * 10 + perBlock / 2, 16);
        assertEquals(10, cache.numBlocks());
        assertEquals(FakeLanguageModel.WIDTH, cache.width());
        assertThrows(IllegalArgumentException.class, () -> ServingEngine.cacheFor(model, perBlock - 1, 16));
    }

    @Test
    void chunkedPrefillOfALongPromptDoesNotStallDecoding() throws Exception {
        FakeLanguageModel model = new FakeLanguageModel();
        try (ServingEngine engine = engine(model, 128, 4, 8, 16, 100, List.of(), EngineListener.NONE)) {
            int[] shortPrompt = {5, 6, 7};
            int[] longPrompt = randomPrompt(new SplittableRandom(8), 150);
            Recorder a = new Recorder(1);
            Recorder b = new Recorder(1);
            engine.submit(new GenerationRequest("short", shortPrompt, greedy(40), null), a);
            engine.submit(new GenerationRequest("long", longPrompt, greedy(5), null), b);
            a.await();
            b.await();
            assertArrayEquals(expected(shortPrompt, greedy(40), 0, Set.of()), a.tokens(0));
            assertArrayEquals(expected(longPrompt, greedy(5), 0, Set.of()), b.tokens(0));
            assertTrue(model.maxTokensPerCall.get() <= 16);
        }
    }
}
