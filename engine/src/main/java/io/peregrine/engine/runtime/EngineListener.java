package io.peregrine.engine.runtime;

/**
 * Timings for metrics and tracing, called on the engine thread (implementations must be quick and never block).
 * Times are {@link System#nanoTime} differences.
 */
public interface EngineListener {
    EngineListener NONE = new EngineListener() {};

    /** The request left the queue after {@code queueNanos}; {@code cachedPromptTokens} came from the prefix cache. */
    default void scheduled(String requestId, long queueNanos, int promptTokens, int cachedPromptTokens) {}

    /** Time from submission to the request's first sampled token. */
    default void firstToken(String requestId, long ttftNanos) {}

    /** Time between two consecutive tokens of one choice. */
    default void interToken(String requestId, int choice, long nanos) {}

    /** The request ended (all choices finished, or it failed); {@code e2eNanos} counts from submission. */
    default void finished(String requestId, FinishReason lastReason, int promptTokens, int completionTokens, long e2eNanos) {}

    /** The request failed. */
    default void failed(String requestId, String message) {}

    /**
     * Prompt positions {@code [start, start + count)} of the request were computed (a prefill chunk, or the part of a
     * preempted sequence's recompute that lies in its prompt) in the forward pass that began at {@code forwardStartNanos} and took {@code forwardNanos}
     * for the whole batch. For tracing: one call per prefilling sequence per step.
     */
    default void prefillChunk(String requestId, int start, int count, long forwardStartNanos, long forwardNanos) {}

    /** One forward step: how many sequences and tokens it ran and how long model plus sampling took. */
    default void step(int sequences, int tokens, long nanos) {}

    /**
     * A speculating sequence's step verified {@code draftTokens} draft tokens and accepted the first {@code accepted}
     * of them (vLLM's spec_decode counters; acceptance per position is positions {@code 0 .. accepted - 1}).
     */
    default void speculated(int draftTokens, int accepted) {}

    /** A running sequence lost its blocks and will be recomputed. */
    default void preempted(String requestId) {}

    /** Once, when the engine's backend is built: its name, its host compute threads and which kernels it runs. */
    default void backend(String name, int threads, String kernelPath) {}
}
