package io.peregrine.engine.runtime;

import io.peregrine.engine.sample.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static io.peregrine.engine.runtime.EngineHarness.awaitIdle;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The serving engine over the real model on the golden tiny checkpoint: chunked prefill, several-block prompts,
 * prefix sharing, preemption and batching with other requests must leave every golden case's greedy ids as the
 * reference computed them (one sequence, no cache, whole sequence recomputed per step).
 */
class ServingEngineGoldenTest {
    private static TinyGolden tiny;
    private static List<TinyGolden.Case> golden;

    @BeforeAll
    static void load() {
        tiny = new TinyGolden();
        golden = TinyGolden.cases();
    }

    @AfterAll
    static void close() {
        tiny.close();
    }

    /** Counts what the engine reports on its thread; read once the engine is idle. */
    private static final class Counting implements EngineListener {
        final AtomicInteger preemptions = new AtomicInteger();
        final AtomicInteger maxSequencesPerStep = new AtomicInteger();
        final AtomicInteger maxTokensPerStep = new AtomicInteger();

        @Override
        public void step(int sequences, int tokens, long nanos) {
            maxSequencesPerStep.accumulateAndGet(sequences, Math::max);
            maxTokensPerStep.accumulateAndGet(tokens, Math::max);
        }

        @Override
        public void preempted(String requestId) {
            preemptions.incrementAndGet();
        }
    }

    private record Job(String id, int[] prompt, SamplingParams params) {}

    private static TinyGolden.Case named(String name) {
        return golden.stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
    }

    private static int[] ordinary(SplittableRandom r, int length) {
        int[] p = new int[length];
        for (int i = 0; i < length; i++) {
            p[i] = r.nextInt(TinyGolden.FIRST_SPECIAL);
        }
        return p;
    }

    private static int[] withBos(int[] body) {
        int[] p = new int[body.length + 1];
        p[0] = TinyGolden.BOS;
        System.arraycopy(body, 0, p, 1, body.length);
        return p;
    }

    private static Recorder submit(ServingEngine engine, Job j) throws RejectedException {
        Recorder rec = new Recorder(1);
        engine.submit(new GenerationRequest(j.id(), j.prompt(), j.params(), null), rec);
        return rec;
    }

    private static void assertGolden(TinyGolden.Case c, Recorder rec, String what) {
        assertArrayEquals(c.greedy(), rec.tokens(0), what + ": " + c.name() + " greedy ids");
        assertEquals(FinishReason.LENGTH, rec.finished(0).reason(), what + ": " + c.name());
        assertEquals(TinyGolden.Decoder.text(c.greedy()), rec.text(0), what + ": " + c.name() + " text");
    }

    private static void assertIdle(ServingEngine engine) throws InterruptedException {
        awaitIdle(engine);
        EngineStats s = engine.stats();
        assertEquals(0, engine.activeRequests(), "requests still active");
        assertEquals(0, s.running());
        assertEquals(0, s.waiting());
        assertEquals(0, s.kvBlocksUsed(), "blocks still referenced");
        assertEquals(0, engine.usedBlocks());
    }

    @Test
    void goldenCasesInOneChunkedBatchWithSharedPrefixes() throws Exception {
        Counting counting = new Counting();
        // 4-token blocks: the 300-token prompt spans 75 of them; a 48-token budget prefills it in 7 chunks.
        try (ServingEngine engine = tiny.engine(256, 4, 16, 48, counting)) {
            TinyGolden.Case p3 = named("p3_len300");
            TinyGolden.Case p2 = named("p2_len40");
            SplittableRandom r = new SplittableRandom(11);
            List<Recorder> goldenRuns = new ArrayList<>();
            for (TinyGolden.Case c : List.of(p3, p2, named("p1_len7"), named("p0_len1"))) {
                goldenRuns.add(submit(engine, new Job(c.name(), c.prompt(), SamplingParams.greedy(16))));
            }
            // others in the same batch: p3's first 200 tokens with another tail (a 50-block prefix hit once
            // p3's prefill has published them), p2 verbatim, and unrelated prompts
            int[] p3Branch = Arrays.copyOf(p3.prompt(), 205);
            System.arraycopy(ordinary(r, 5), 0, p3Branch, 200, 5);
            Recorder branch = submit(engine, new Job("p3-branch", p3Branch, SamplingParams.greedy(6)));
            Recorder p2Again = submit(engine, new Job("p2-again", p2.prompt(), SamplingParams.greedy(16)));
            for (int i = 0; i < 4; i++) {
                submit(engine, new Job("other" + i, withBos(ordinary(r, 3 + r.nextInt(30))),
                        SamplingParams.greedy(1 + r.nextInt(10))));
            }
            List<TinyGolden.Case> order = List.of(p3, p2, named("p1_len7"), named("p0_len1"));
            for (int i = 0; i < order.size(); i++) {
                assertGolden(order.get(i), goldenRuns.get(i).await(), "batched");
            }
            assertGolden(p2, p2Again.await(), "prefix-cached repeat");
            assertEquals(36, p2Again.scheduled().cachedPromptTokens(), "p2's 9 full blocks (last token recomputed)");
            assertEquals(200, branch.await().scheduled().cachedPromptTokens(), "p3's shared 50 blocks");
            assertEquals(FinishReason.LENGTH, branch.finished(0).reason());

            assertTrue(counting.maxSequencesPerStep.get() >= 4, "requests never shared a step");
            assertTrue(counting.maxTokensPerStep.get() <= 48, "step budget exceeded: " + counting.maxTokensPerStep);
            assertIdle(engine);

            // a second turn: all four again, now from the prefix cache
            List<Recorder> again = new ArrayList<>();
            for (TinyGolden.Case c : order) {
                again.add(submit(engine, new Job(c.name() + "-2", c.prompt(), SamplingParams.greedy(16))));
            }
            for (int i = 0; i < order.size(); i++) {
                assertGolden(order.get(i), again.get(i).await(), "second turn");
            }
            assertEquals(296, again.getFirst().scheduled().cachedPromptTokens());
            assertIdle(engine);
        }
    }

    @Test
    void preemptionUnderATightCacheStillGivesTheGoldenIds() throws Exception {
        Counting counting = new Counting();
        // 90 blocks of 4 = 360 slots; the four cases need 79 + 14 + 6 + 5 = 104 blocks to finish together.
        try (ServingEngine engine = tiny.engine(90, 4, 8, 32, counting)) {
            List<Recorder> runs = new ArrayList<>();
            for (TinyGolden.Case c : golden.reversed()) {
                runs.add(submit(engine, new Job(c.name(), c.prompt(), SamplingParams.greedy(16))));
            }
            for (int i = 0; i < runs.size(); i++) {
                assertGolden(golden.reversed().get(i), runs.get(i).await(), "under preemption");
            }
            assertTrue(counting.preemptions.get() > 0, "the cache never ran out; the test does not test preemption");
            assertIdle(engine);
        }
    }

    @Test
    void thirtyTwoConcurrentRequestsWithAbortsMatchTheirSoloRuns() throws Exception {
        SplittableRandom r = new SplittableRandom(2026);
        int[] system = withBos(ordinary(r, 23));
        List<Job> jobs = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            int[] body = ordinary(r, 1 + r.nextInt(40));
            int[] prompt;
            if (r.nextInt(3) > 0) {
                prompt = Arrays.copyOf(system, system.length + body.length);
                System.arraycopy(body, 0, prompt, system.length, body.length);
            } else {
                prompt = withBos(body);
            }
            int max = 1 + r.nextInt(12);
            SamplingParams p = i % 2 == 0 ? SamplingParams.greedy(max)
                    : new SamplingParams(0.8 + 0.1 * (i % 5), 0.9, i % 4 == 1 ? 0 : 50, 0.0, 0.0, 0.0, 1.0,
                            1000L + i, max, List.of(), List.of(), true, -1, 1);
            jobs.add(new Job("j" + i, prompt, p));
        }

        List<int[]> alone = new ArrayList<>();
        try (ServingEngine engine = tiny.engine(64, 4, 1, 64, EngineListener.NONE)) {
            for (Job j : jobs) {
                alone.add(submit(engine, j).await().tokens(0));
            }
        }

        Counting counting = new Counting();
        try (ServingEngine engine = tiny.engine(160, 4, 32, 40, counting)) {
            Recorder[] recs = new Recorder[jobs.size()];
            RequestHandle[] handles = new RequestHandle[jobs.size()];
            boolean[] abortAsked = new boolean[jobs.size()];
            List<Thread> aborters = new ArrayList<>();
            for (int i = 0; i < jobs.size(); i++) {
                Job j = jobs.get(i);
                recs[i] = new Recorder(1);
                handles[i] = engine.submit(new GenerationRequest(j.id(), j.prompt(), j.params(), null), recs[i]);
                if (r.nextInt(4) == 0) {
                    abortAsked[i] = true;
                    RequestHandle h = handles[i];
                    long delayMillis = r.nextInt(3) == 0 ? 0 : r.nextInt(60);
                    aborters.add(Thread.ofVirtual().start(() -> {
                        try {
                            Thread.sleep(delayMillis);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        h.abort();
                    }));
                }
            }
            int aborted = 0;
            int seededCompleted = 0;
            for (int i = 0; i < jobs.size(); i++) {
                recs[i].await();
                int[] got = recs[i].tokens(0);
                EngineEvent.Finished f = recs[i].finished(0);
                if (f.reason() == FinishReason.ABORT) {
                    assertTrue(abortAsked[i], jobs.get(i).id() + " aborted unasked");
                    aborted++;
                    assertArrayEquals(Arrays.copyOf(alone.get(i), got.length), got,
                            "aborted " + jobs.get(i).id() + " went wrong before its abort");
                } else {
                    assertArrayEquals(alone.get(i), got, jobs.get(i).id() + " differs in a batch from alone");
                    if (jobs.get(i).params().seed() != null) {
                        seededCompleted++;
                    }
                }
                assertEquals(got.length, f.completionTokens());
            }
            for (Thread t : aborters) {
                t.join();
            }
            assertTrue(aborted > 0, "no abort landed; the test does not test aborts");
            assertTrue(seededCompleted >= 5, "too few seeded requests completed to compare: " + seededCompleted);
            assertTrue(counting.maxSequencesPerStep.get() >= 8, "requests were never batched");
            assertTrue(engine.stats().prefixCacheHitTokens() > 0, "the shared prefix never hit the cache");
            assertIdle(engine);
        }
    }
}
