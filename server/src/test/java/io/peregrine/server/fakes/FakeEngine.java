package io.peregrine.server.fakes;

import io.peregrine.engine.runtime.EngineEvent;
import io.peregrine.engine.runtime.EngineStats;
import io.peregrine.engine.runtime.EventSink;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.runtime.InferenceEngine;
import io.peregrine.engine.runtime.RejectedException;
import io.peregrine.engine.runtime.RequestHandle;
import io.peregrine.engine.sample.TokenLogprob;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * An engine that plays a script per request on its own thread, with the real event order (Scheduled, then per
 * choice Tokens… and one Finished). Each scripted step is one token. A script with {@code hold} keeps emitting
 * until the request is aborted, for disconnect tests.
 */
public final class FakeEngine implements InferenceEngine {

    /** What a request produces: the same steps for every choice, then {@code finish}. */
    public record Script(List<String> steps, FinishReason finish, int cachedPromptTokens, boolean hold, boolean queued) {
        public Script(List<String> steps, FinishReason finish, int cachedPromptTokens, boolean hold) {
            this(steps, finish, cachedPromptTokens, hold, false);
        }

        public static Script of(FinishReason finish, String... steps) {
            return new Script(List.of(steps), finish, 0, false);
        }

        /** Decodes a token every 20 ms until aborted. */
        public static Script holdUntilAborted() {
            return new Script(List.of("x"), FinishReason.ABORT, 0, true);
        }

        /** Never leaves the waiting queue until aborted. */
        public static Script queuedUntilAborted() {
            return new Script(List.of(), FinishReason.ABORT, 0, false, true);
        }
    }

    /** A script step that fails the request there ({@link EngineEvent.Failed}, as a video that stops decoding does). */
    public static final String FAIL = "\u0000fail";

    public final List<GenerationRequest> submitted = new CopyOnWriteArrayList<>();
    public final AtomicInteger running = new AtomicInteger();
    public final AtomicInteger waiting = new AtomicInteger();
    public final AtomicInteger aborted = new AtomicInteger();
    private final AtomicLong promptTotal = new AtomicLong();
    private final AtomicLong generationTotal = new AtomicLong();
    private final int maxModelLen;
    private volatile Function<GenerationRequest, Script> scripts = r -> Script.of(FinishReason.STOP, "ok");
    private volatile RejectedException reject;
    private final List<CountDownLatch> abortSignals = new CopyOnWriteArrayList<>();
    private volatile boolean draining;
    /** The timeout of the last {@link #drain} call, or -1. */
    public volatile long drainedWithTimeout = -1;
    /** Counts down when a request starts running (for tests that must wait for it). */
    public volatile CountDownLatch started = new CountDownLatch(1);

    public FakeEngine(int maxModelLen) {
        this.maxModelLen = maxModelLen;
    }

    public void script(Function<GenerationRequest, Script> s) {
        this.scripts = s;
    }

    public void rejectWith(RejectedException e) {
        this.reject = e;
    }

    @Override
    public RequestHandle submit(GenerationRequest request, EventSink sink) throws RejectedException {
        if (reject != null) {
            throw reject;
        }
        if (draining) {
            throw new RejectedException(RejectedException.Kind.UNAVAILABLE, "draining");
        }
        submitted.add(request);
        Script script = scripts.apply(request);
        CountDownLatch abortSignal = new CountDownLatch(1);
        abortSignals.add(abortSignal);
        Thread.ofPlatform().daemon().name("fake-engine-" + request.requestId()).start(
                () -> play(request, script, sink, abortSignal));
        return new RequestHandle() {
            @Override
            public String requestId() {
                return request.requestId();
            }

            @Override
            public void abort() {
                abortSignal.countDown();
            }
        };
    }

    private void play(GenerationRequest request, Script script, EventSink sink, CountDownLatch abortSignal) {
        if (script.queued()) {
            waiting.incrementAndGet();
            started.countDown();
            try {
                abortSignal.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            aborted.incrementAndGet();
            waiting.decrementAndGet();
            for (int c = 0; c < request.sampling().n(); c++) {
                sink.accept(new EngineEvent.Finished(c, FinishReason.ABORT, null, 0));
            }
            return;
        }
        running.incrementAndGet();
        promptTotal.addAndGet(request.promptLength());
        try {
            sink.accept(new EngineEvent.Scheduled(request.requestId(), request.promptLength(),
                    script.cachedPromptTokens(), 1_000_000));
            started.countDown();
            int n = request.sampling().n();
            for (int c = 0; c < n; c++) {
                ScriptedOutput output = new ScriptedOutput(request);
                int produced = 0;
                boolean wasAborted = false;
                do {
                    for (String step : script.steps()) {
                        if (abortSignal.await(script.hold() ? 20 : 0, TimeUnit.MILLISECONDS)) {
                            wasAborted = true;
                            break;
                        }
                        if (step.equals(FAIL)) {
                            sink.accept(new EngineEvent.Failed(request.requestId(), "scripted failure", false));
                            return;
                        }
                        int id = step.isEmpty() ? 0 : step.codePointAt(0) & 0xff;
                        List<TokenLogprob> lp = request.sampling().logprobs() >= 0
                                ? List.of(new TokenLogprob(id, -0.5f, request.sampling().logprobs() > 0
                                    ? List.of(new TokenLogprob.Alternative(id, -0.5f),
                                              new TokenLogprob.Alternative((id + 1) & 0xff, -1.5f)).subList(0,
                                            Math.min(2, request.sampling().logprobs()))
                                    : List.of()))
                                : List.of();
                        sink.accept(output.step(c, id, step, lp));
                        produced++;
                        generationTotal.incrementAndGet();
                    }
                } while (script.hold() && !wasAborted);
                FinishReason reason = wasAborted ? FinishReason.ABORT : script.finish();
                if (wasAborted) {
                    aborted.incrementAndGet();
                }
                EngineEvent.Tokens last = output.finish(c, reason);
                if (last != null) {
                    sink.accept(last);
                }
                sink.accept(new EngineEvent.Finished(c, reason, null, produced));
                if (wasAborted) {
                    for (int rest = c + 1; rest < n; rest++) {
                        sink.accept(new EngineEvent.Finished(rest, FinishReason.ABORT, null, 0));
                    }
                    break;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            running.decrementAndGet();
        }
    }

    @Override
    public EngineStats stats() {
        int r = running.get();
        return new EngineStats(waiting.get(), r, r / 10.0, r, 10, promptTotal.get(), promptTotal.get() / 2, promptTotal.get(),
                generationTotal.get());
    }

    @Override
    public int maxModelLen() {
        return maxModelLen;
    }

    /** Waits for running requests up to the timeout, then aborts the rest, as the contract says. */
    @Override
    public void drain(long timeoutMillis) throws InterruptedException {
        draining = true;
        drainedWithTimeout = timeoutMillis;
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        while ((running.get() > 0 || waiting.get() > 0) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        abortSignals.forEach(CountDownLatch::countDown);
        while (running.get() > 0 || waiting.get() > 0) {
            Thread.sleep(5);
        }
    }

    @Override
    public void close() {}

    /** The last character of the request's prompt, as text (the fake template ends prompts with "\n"). */
    public String codecText(GenerationRequest r) {
        int[] ids = r.promptIds();
        return String.valueOf((char) ids[ids.length - 2]);
    }

    /** UTF-8 length of a string, the fake codec's token count. */
    public static int tokens(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }
}
