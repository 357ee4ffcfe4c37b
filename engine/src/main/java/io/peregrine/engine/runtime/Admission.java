package io.peregrine.engine.runtime;

import java.util.ArrayList;
import java.util.List;

/** A submitted request as the engine thread tracks it, from the queue to its last event. */
final class Admission implements RequestHandle {
    final GenerationRequest request;
    final EventSink sink;
    final long submitNanos;
    /** {@link Long#MAX_VALUE} when there is no deadline. */
    final long deadlineNanos;
    private final Runnable wake;
    volatile boolean abortRequested;

    final List<Choice> choices = new ArrayList<>();
    boolean scheduled;
    boolean forked;
    boolean ended;
    long firstTokenNanos;
    int finishedChoices;
    FinishReason lastReason;

    Admission(GenerationRequest request, EventSink sink, long submitNanos, long deadlineNanos, Runnable wake) {
        this.request = request;
        this.sink = sink;
        this.submitNanos = submitNanos;
        this.deadlineNanos = deadlineNanos;
        this.wake = wake;
    }

    @Override
    public String requestId() {
        return request.requestId();
    }

    @Override
    public void abort() {
        abortRequested = true;
        wake.run();
    }

    int completionTokens() {
        int n = 0;
        for (Choice c : choices) {
            n += c.sequence.generated();
        }
        return n;
    }
}
