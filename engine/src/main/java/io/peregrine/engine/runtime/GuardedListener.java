package io.peregrine.engine.runtime;

/** Keeps a faulty metrics listener from disturbing the engine: its exceptions are logged and dropped. */
final class GuardedListener implements EngineListener {
    private static final System.Logger LOG = System.getLogger(GuardedListener.class.getName());
    private final EngineListener inner;

    GuardedListener(EngineListener inner) {
        this.inner = inner;
    }

    private static void guard(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "engine listener failed", e);
        }
    }

    @Override
    public void scheduled(String requestId, long queueNanos, int promptTokens, int cachedPromptTokens) {
        guard(() -> inner.scheduled(requestId, queueNanos, promptTokens, cachedPromptTokens));
    }

    @Override
    public void firstToken(String requestId, long ttftNanos) {
        guard(() -> inner.firstToken(requestId, ttftNanos));
    }

    @Override
    public void interToken(String requestId, int choice, long nanos) {
        guard(() -> inner.interToken(requestId, choice, nanos));
    }

    @Override
    public void finished(String requestId, FinishReason lastReason, int promptTokens, int completionTokens,
                         long e2eNanos) {
        guard(() -> inner.finished(requestId, lastReason, promptTokens, completionTokens, e2eNanos));
    }

    @Override
    public void failed(String requestId, String message) {
        guard(() -> inner.failed(requestId, message));
    }

    @Override
    public void prefillChunk(String requestId, int start, int count, long forwardStartNanos, long forwardNanos) {
        guard(() -> inner.prefillChunk(requestId, start, count, forwardStartNanos, forwardNanos));
    }

    @Override
    public void step(int sequences, int tokens, long nanos) {
        guard(() -> inner.step(sequences, tokens, nanos));
    }

    @Override
    public void preempted(String requestId) {
        guard(() -> inner.preempted(requestId));
    }

    @Override
    public void speculated(int draftTokens, int accepted) {
        guard(() -> inner.speculated(draftTokens, accepted));
    }
}
