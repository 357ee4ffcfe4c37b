package io.peregrine.engine.runtime;

/** The submitter's grip on a running request. */
public interface RequestHandle {
    String requestId();

    /**
     * Cancels the request wherever it is (queued, prefilling, decoding). Thread-safe and idempotent; its
     * blocks are freed at the engine's next step and its sink receives {@link FinishReason#ABORT}.
     */
    void abort();
}
