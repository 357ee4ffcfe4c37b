package io.peregrine.engine.sched;

/**
 * Limits of one engine step.
 *
 * @param maxRunning       sequences in the batch at once (forks of an n &gt; 1 request may exceed it briefly)
 * @param maxBatchedTokens tokens fed to the model in one step; a longer prompt is prefilled in chunks of the
 *                         budget that decodes leave over, so it never stalls them
 * @param maxPrefillPairs  attention work of the prefill chunks of one step, in (query, key) pairs: a chunk of n
 *                         tokens after p computed ones costs n·p + n(n+1)/2. A token budget alone lets one chunk deep
 *                         into a long prompt cost seconds (its attention grows with the context, quadratically over
 *                         the prompt), and every other request waits for the step to end: with this cap a step, and
 *                         so the latency of everyone else and the time an abort takes to land, stays bounded, however
 *                         long the prompt. Decodes are not counted (they always run). 0: no cap.
 */
public record SchedulerConfig(int maxRunning, int maxBatchedTokens, long maxPrefillPairs) {
    /** The serving default for {@link #maxPrefillPairs}: a fresh prompt of about 1,450 tokens in one step. */
    public static final long DEFAULT_PREFILL_PAIRS = 1L << 20;

    public SchedulerConfig {
        if (maxRunning < 1) {
            throw new IllegalArgumentException("maxRunning must be >= 1, got " + maxRunning);
        }
        if (maxBatchedTokens < maxRunning) {
            throw new IllegalArgumentException("maxBatchedTokens (" + maxBatchedTokens
                    + ") must be >= maxRunning (" + maxRunning + ") so every running sequence can decode");
        }
        if (maxPrefillPairs < 0) {
            throw new IllegalArgumentException("maxPrefillPairs must be >= 0 (0: no cap), got " + maxPrefillPairs);
        }
    }

    /** No attention cap: chunks are limited by the token budget alone. */
    public SchedulerConfig(int maxRunning, int maxBatchedTokens) {
        this(maxRunning, maxBatchedTokens, 0);
    }
}
