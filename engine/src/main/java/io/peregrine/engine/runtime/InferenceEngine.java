package io.peregrine.engine.runtime;

/**
 * The serving engine as its callers see it: thread-safe submission, token events out through sinks.
 * One engine thread owns the model; {@link #submit} only enqueues.
 */
public interface InferenceEngine extends AutoCloseable {

    RequestHandle submit(GenerationRequest request, EventSink sink) throws RejectedException;

    EngineStats stats();

    /** Context length the engine serves (prompt + completion). */
    int maxModelLen();

    /** Stops accepting work and waits up to {@code timeoutMillis} for running requests, then aborts the rest. */
    void drain(long timeoutMillis) throws InterruptedException;

    @Override
    void close();
}
