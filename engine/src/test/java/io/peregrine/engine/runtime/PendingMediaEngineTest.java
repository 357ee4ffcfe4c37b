package io.peregrine.engine.runtime;

import io.peregrine.engine.media.MediaInputException;
import io.peregrine.engine.media.MediaProcessor;
import io.peregrine.engine.media.MediaProducer;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sched.MediaSpan;
import io.peregrine.engine.sched.PendingMedia;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static io.peregrine.engine.runtime.EngineHarness.awaitIdle;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Media rows that arrive after submission (a long video's later chunks) through the serving engine on the tiny
 * checkpoint's real text model, whose output depends on every spliced row: the prefill runs up to the first missing
 * span, waits without spinning or holding back other requests, resumes when the rows come, and gives the tokens
 * of a request whose rows were all there; a failed producer fails only its request and frees its blocks; an
 * abort stops the producer.
 */
class PendingMediaEngineTest {
    private static final int BLOCK = 16;
    private static final int PROMPT = 70;
    private static final int A_START = 5;
    private static final int A_TOKENS = 12;
    private static final int B_START = 37; // inside block 2: blocks 0 and 1 are computable before B arrives
    private static final int B_TOKENS = 20;

    static TinyGolden tiny;
    static int hidden;
    static int[] prompt;

    @BeforeAll
    static void load() {
        tiny = new TinyGolden();
        hidden = tiny.model.config().hiddenSize();
        SplittableRandom r = new SplittableRandom(7);
        prompt = new int[PROMPT];
        for (int i = 0; i < PROMPT; i++) {
            prompt[i] = r.nextInt(1000);
        }
    }

    @AfterAll
    static void close() {
        tiny.close();
    }

    static float[] rows(int tokens, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] out = new float[tokens * hidden];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) r.nextGaussian();
        }
        return out;
    }

    static MediaSpan spanA() {
        return new MediaSpan(A_START, A_TOKENS, hidden, rows(A_TOKENS, 1), 0xA);
    }

    static MediaSpan spanB(long seed, long hash) {
        return new MediaSpan(B_START, B_TOKENS, hidden, rows(B_TOKENS, seed), hash);
    }

    static PendingMedia pendingB(long hash) {
        return new PendingMedia(hidden, List.of(new PendingMedia.Slot(B_START, B_TOKENS, hash)));
    }

    /** Counts forward tokens; the test reads it from its own thread. */
    static final class Steps implements EngineListener {
        final AtomicInteger tokens = new AtomicInteger();
        final AtomicInteger steps = new AtomicInteger();

        @Override
        public void step(int sequences, int tokens, long nanos) {
            this.tokens.addAndGet(tokens);
            steps.incrementAndGet();
        }
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(2);
        }
    }

    static int[] allReady(long bSeed, long bHash, int maxTokens) throws Exception {
        try (ServingEngine engine = tiny.engine(64, BLOCK, 4, BLOCK, EngineListener.NONE)) {
            Recorder r = new Recorder(1);
            engine.submit(new GenerationRequest("ready", prompt, SamplingParams.greedy(maxTokens), null,
                    List.of(spanA(), spanB(bSeed, bHash))), r);
            return r.await().tokens(0);
        }
    }

    @Test
    void aLateSpanIsPrefilledUpToThenResumedAndGivesTheTokensOfOneWithAllRowsReady() throws Exception {
        int[] expected = allReady(2, 0xB, 12);
        assertFalse(java.util.Arrays.equals(expected, allReady(3, 0xB, 12)),
                "the tiny model must tell span B's rows apart, or this test could not fail");

        Steps steps = new Steps();
        // 16-token prefill chunks: blocks 0 and 1 (32 positions) run, then the 5 text positions before B.
        try (ServingEngine engine = tiny.engine(64, BLOCK, 4, BLOCK, steps)) {
            PendingMedia pending = pendingB(0xB);
            Recorder r = new Recorder(1);
            engine.submit(new GenerationRequest("late", prompt, SamplingParams.greedy(12), null, List.of(spanA()),
                    pending), r);
            await(() -> steps.tokens.get() == B_START, "the prefill up to span B");
            int stepsThen = steps.steps.get();
            Thread.sleep(150);
            assertEquals(B_START, steps.tokens.get(), "nothing past the missing span may be computed");
            assertEquals(stepsThen, steps.steps.get(), "no forward step while only the missing span is left");
            assertInstanceOf(EngineEvent.Scheduled.class, r.events().getFirst(), "prefill began before the span arrived");
            assertFalse(r.isDone());
            assertTrue(engine.stats().kvBlocksUsed() >= 3, "the waiting request keeps its computed blocks");

            pending.complete(0, spanB(2, 0xB).rows());
            assertArrayEquals(expected, r.await().tokens(0));
            assertEquals(PROMPT, r.scheduled().promptTokens());

            // The pending span's content hash keyed its blocks from the start: the same content with every row
            // ready reuses the whole prompt, other content under the same ids only the blocks before B.
            Recorder same = new Recorder(1);
            engine.submit(new GenerationRequest("same", prompt, SamplingParams.greedy(12), null,
                    List.of(spanA(), spanB(2, 0xB))), same);
            assertArrayEquals(expected, same.await().tokens(0));
            assertEquals((PROMPT - 1) / BLOCK * BLOCK, same.scheduled().cachedPromptTokens());
            Recorder other = new Recorder(1);
            engine.submit(new GenerationRequest("other", prompt, SamplingParams.greedy(2), null,
                    List.of(spanA(), spanB(3, 0xC))), other);
            assertEquals(B_START / BLOCK * BLOCK, other.await().scheduled().cachedPromptTokens());
        }
    }

    @Test
    void aPreemptedRequestRecomputesWithItsLateRows() throws Exception {
        int[] expected = allReady(2, 0xB, 12);
        // Eight blocks: the late request needs six, a text request that came first seven, so the late one (the
        // newest) is preempted whatever the timing, and recomputes its prompt, span A's rows and B's late rows.
        AtomicInteger preemptions = new AtomicInteger();
        EngineListener counting = new EngineListener() {
            @Override
            public void preempted(String requestId) {
                preemptions.incrementAndGet();
            }
        };
        try (ServingEngine engine = tiny.engine(8, BLOCK, 4, 256, counting)) {
            int[] text = java.util.Arrays.copyOf(prompt, 40);
            Recorder filler = new Recorder(1);
            engine.submit(new GenerationRequest("filler", text, SamplingParams.greedy(60), null), filler);
            PendingMedia pending = pendingB(0xB);
            Recorder late = new Recorder(1);
            engine.submit(new GenerationRequest("late", prompt, SamplingParams.greedy(12), null, List.of(spanA()),
                    pending), late);
            await(() -> filler.tokens(0).length >= 2 && !late.events().isEmpty(), "both requests to run");
            pending.complete(0, spanB(2, 0xB).rows());
            assertArrayEquals(expected, late.await().tokens(0));
            filler.await();
            assertTrue(preemptions.get() > 0, "the blocks were meant to run out");
            awaitIdle(engine);
            assertEquals(0, engine.stats().kvBlocksUsed());
        }
    }

    @Test
    void aRequestWaitingForItsFirstRowsDoesNotHoldBackTheQueue() throws Exception {
        try (ServingEngine engine = tiny.engine(64, BLOCK, 4, 64, EngineListener.NONE)) {
            // Media at position 0: nothing at all is computable until it arrives.
            PendingMedia first = new PendingMedia(hidden, List.of(new PendingMedia.Slot(0, 8, 0x1)));
            Recorder blocked = new Recorder(1);
            engine.submit(new GenerationRequest("blocked", prompt, SamplingParams.greedy(3), null, List.of(), first),
                    blocked);
            Recorder text = new Recorder(1);
            engine.submit(new GenerationRequest("text", prompt, SamplingParams.greedy(3), null), text);
            text.await();
            assertFalse(blocked.isDone());
            assertTrue(blocked.events().isEmpty(), "still queued: " + blocked.events());
            first.complete(0, rows(8, 9));
            assertEquals(3, blocked.await().tokens(0).length);
        }
    }

    @Test
    void aProducerFailureFailsOnlyItsRequestAndFreesItsBlocks() throws Exception {
        ExecutorService media = Executors.newSingleThreadExecutor();
        Steps steps = new Steps();
        try (ServingEngine engine = tiny.engine(64, BLOCK, 4, BLOCK, steps)) {
            PendingMedia pending = new PendingMedia(hidden, List.of(new PendingMedia.Slot(B_START, 8, 0xB),
                    new PendingMedia.Slot(50, 8, 0xC)));
            CountDownLatch prefilled = new CountDownLatch(1);
            AtomicBoolean closed = new AtomicBoolean();
            List<MediaProcessor.Item> items = List.of(
                    new MediaProcessor.Item("chunk1", 8, () -> new VisionEmbeddings(8, hidden, rows(8, 4))),
                    new MediaProcessor.Item("chunk2", 8, () -> {
                        await(prefilled);
                        throw new MediaInputException(MediaInputException.Reason.CORRUPT,
                                "video.mp4: decoding failed (Invalid data found when processing input)");
                    }));
            MediaProducer producer = new MediaProducer(items, pending, () -> closed.set(true), media);
            Recorder bad = new Recorder(1);
            engine.submit(new GenerationRequest("bad", prompt, SamplingParams.greedy(8), null, List.of(spanA()),
                    pending), bad);
            producer.start();
            await(() -> steps.tokens.get() == 50, "the prefill up to chunk 2");
            Recorder good = new Recorder(1);
            int[] text = java.util.Arrays.copyOf(prompt, 20);
            engine.submit(new GenerationRequest("good", text, SamplingParams.greedy(30), null), good);
            await(() -> !good.events().isEmpty(), "the other request to start");
            prefilled.countDown();

            EngineEvent last = bad.await().events().getLast();
            EngineEvent.Failed f = assertInstanceOf(EngineEvent.Failed.class, last);
            assertTrue(f.invalidInput());
            assertTrue(f.message().contains("decoding failed"), f.message());
            assertEquals(30, good.await().tokens(0).length, "the other request is unaffected");
            await(closed::get, "the producer to release its video");
            awaitIdle(engine);
            assertEquals(0, engine.stats().kvBlocksUsed(), "the failed request's blocks are freed");
        } finally {
            media.shutdownNow();
        }
    }

    @Test
    void abortCancelsTheProducerBeforeItsNextChunk() throws Exception {
        ExecutorService media = Executors.newSingleThreadExecutor();
        try (ServingEngine engine = tiny.engine(64, BLOCK, 4, BLOCK, EngineListener.NONE)) {
            List<PendingMedia.Slot> slots = new ArrayList<>();
            List<MediaProcessor.Item> items = new ArrayList<>();
            CountDownLatch inSecond = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicInteger encoded = new AtomicInteger();
            for (int k = 0; k < 4; k++) {
                int start = 10 + 12 * k;
                slots.add(new PendingMedia.Slot(start, 8, 0x100 + k));
                int chunk = k;
                items.add(new MediaProcessor.Item("chunk" + k, 8, () -> {
                    encoded.incrementAndGet();
                    if (chunk == 1) {
                        inSecond.countDown();
                        await(release);
                    }
                    return new VisionEmbeddings(8, hidden, rows(8, chunk));
                }));
            }
            PendingMedia pending = new PendingMedia(hidden, slots);
            AtomicBoolean closed = new AtomicBoolean();
            MediaProducer producer = new MediaProducer(items, pending, () -> closed.set(true), media);
            Recorder r = new Recorder(1);
            RequestHandle h = engine.submit(new GenerationRequest("gone", prompt, SamplingParams.greedy(4), null,
                    List.of(), pending), r);
            producer.start();
            assertTrue(inSecond.await(10, TimeUnit.SECONDS));
            h.abort();
            assertEquals(FinishReason.ABORT, r.await().finished(0).reason());
            await(pending::isCancelled, "the engine to cancel the pending media");
            release.countDown();
            await(closed::get, "the producer to stop and release its video");
            assertEquals(2, encoded.get(), "no chunk after the abort was encoded");
            awaitIdle(engine);
            assertEquals(0, engine.stats().kvBlocksUsed());
        } finally {
            media.shutdownNow();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(10, TimeUnit.SECONDS)) {
                throw new AssertionError("latch timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
