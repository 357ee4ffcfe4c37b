package io.peregrine.server.bench;

import io.peregrine.engine.runtime.EngineEvent;
import io.peregrine.server.fakes.ScriptedOutput;
import io.peregrine.engine.runtime.EngineStats;
import io.peregrine.engine.runtime.EventSink;
import io.peregrine.engine.runtime.FinishReason;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.runtime.InferenceEngine;
import io.peregrine.engine.runtime.RejectedException;
import io.peregrine.engine.runtime.RequestHandle;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An engine that decodes one token "a" every {@code tokenMillis} up to max_tokens, honouring aborts, and holds
 * one KV block per running request. With {@code leakAborted} it forgets to release an aborted request: the
 * request stays counted as running and its block stays used, the bug the idle check exists to catch.
 */
final class PacedEngine implements InferenceEngine {
    static final int BLOCKS = 100;
    private final long tokenMillis;
    private final boolean leakAborted;
    final AtomicInteger running = new AtomicInteger();
    final AtomicInteger aborted = new AtomicInteger();
    final AtomicInteger submitted = new AtomicInteger();
    private final AtomicLong promptTotal = new AtomicLong();
    private final AtomicLong generated = new AtomicLong();

    PacedEngine(long tokenMillis, boolean leakAborted) {
        this.tokenMillis = tokenMillis;
        this.leakAborted = leakAborted;
    }

    @Override
    public RequestHandle submit(GenerationRequest request, EventSink sink) throws RejectedException {
        submitted.incrementAndGet();
        CountDownLatch abort = new CountDownLatch(1);
        running.incrementAndGet();
        Thread.ofVirtual().start(() -> play(request, sink, abort));
        return new RequestHandle() {
            @Override
            public String requestId() {
                return request.requestId();
            }

            @Override
            public void abort() {
                abort.countDown();
            }
        };
    }

    private void play(GenerationRequest request, EventSink sink, CountDownLatch abort) {
        boolean wasAborted = false;
        promptTotal.addAndGet(request.promptLength());
        sink.accept(new EngineEvent.Scheduled(request.requestId(), request.promptLength(), 0, 0));
        int produced = 0;
        ScriptedOutput output = new ScriptedOutput(request);
        try {
            while (produced < request.sampling().maxTokens()) {
                if (abort.await(tokenMillis, TimeUnit.MILLISECONDS)) {
                    wasAborted = true;
                    break;
                }
                sink.accept(output.step(0, 'a', "a", List.of()));
                produced++;
                generated.incrementAndGet();
            }
        } catch (InterruptedException e) {
            wasAborted = true;
        }
        if (wasAborted) {
            aborted.incrementAndGet();
        }
        sink.accept(new EngineEvent.Finished(0, wasAborted ? FinishReason.ABORT : FinishReason.LENGTH, null, produced));
        if (!(wasAborted && leakAborted)) {
            running.decrementAndGet();
        }
    }

    @Override
    public EngineStats stats() {
        int r = running.get();
        return new EngineStats(0, r, (double) r / BLOCKS, r, BLOCKS, promptTotal.get(), 0, promptTotal.get(),
                generated.get());
    }

    @Override
    public int maxModelLen() {
        return 1 << 16;
    }

    @Override
    public void drain(long timeoutMillis) {}

    @Override
    public void close() {}
}
