package io.peregrine.server.serving;

import io.peregrine.engine.runtime.EngineListener;
import io.peregrine.engine.runtime.FinishReason;

/** The engine takes one listener; metrics and tracing both listen. */
public final class EngineListeners {
    private EngineListeners() {}

    /** Both, in order; {@code first} itself when {@code second} is {@link EngineListener#NONE} (tracing off). */
    public static EngineListener both(EngineListener first, EngineListener second) {
        if (second == EngineListener.NONE) {
            return first;
        }
        return new EngineListener() {
            @Override
            public void scheduled(String requestId, long queueNanos, int promptTokens, int cachedPromptTokens) {
                first.scheduled(requestId, queueNanos, promptTokens, cachedPromptTokens);
                second.scheduled(requestId, queueNanos, promptTokens, cachedPromptTokens);
            }

            @Override
            public void firstToken(String requestId, long ttftNanos) {
                first.firstToken(requestId, ttftNanos);
                second.firstToken(requestId, ttftNanos);
            }

            @Override
            public void interToken(String requestId, int choice, long nanos) {
                first.interToken(requestId, choice, nanos);
                second.interToken(requestId, choice, nanos);
            }

            @Override
            public void finished(String requestId, FinishReason lastReason, int promptTokens, int completionTokens,
                                 long e2eNanos) {
                first.finished(requestId, lastReason, promptTokens, completionTokens, e2eNanos);
                second.finished(requestId, lastReason, promptTokens, completionTokens, e2eNanos);
            }

            @Override
            public void failed(String requestId, String message) {
                first.failed(requestId, message);
                second.failed(requestId, message);
            }

            @Override
            public void prefillChunk(String requestId, int start, int count, long forwardStartNanos,
                                     long forwardNanos) {
                first.prefillChunk(requestId, start, count, forwardStartNanos, forwardNanos);
                second.prefillChunk(requestId, start, count, forwardStartNanos, forwardNanos);
            }

            @Override
            public void step(int sequences, int tokens, long nanos) {
                first.step(sequences, tokens, nanos);
                second.step(sequences, tokens, nanos);
            }

            @Override
            public void preempted(String requestId) {
                first.preempted(requestId);
                second.preempted(requestId);
            }

            @Override
            public void speculated(int draftTokens, int accepted) {
                first.speculated(draftTokens, accepted);
                second.speculated(draftTokens, accepted);
            }
        };
    }
}
