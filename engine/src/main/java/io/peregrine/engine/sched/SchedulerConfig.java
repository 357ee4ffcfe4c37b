package io.peregrine.engine.sched;

/**
 * Limits of one engine step.
 *
 * @param maxRunning       sequences in the batch at once (forks of an n &gt; 1 request may exceed it briefly)
 * @param maxBatchedTokens tokens fed to the model in one step; a longer prompt is prefilled in chunks of the
 *                         budget that decodes leave over, so it never stalls them
 * @param maxPrefillCost   work of the prefill chunks of one step, in attention pairs: a chunk of n tokens after p
 *                         computed ones costs n·(p + {@link #TOKEN_COST}) + n(n+1)/2, its (query, key) pairs plus a
 *                         share for the weights every token goes through. A token budget alone lets one chunk deep
 *                         into a long prompt cost seconds (its attention grows with the context, quadratically over
 *                         the prompt), and every other request waits for the step to end: with this cap a step, and
 *                         so the latency of everyone else and the time an abort takes to land, stays bounded however
 *                         long the prompt. Decodes are not counted (they always run). 0: no cap.
 */
public record SchedulerConfig(int maxRunning, int maxBatchedTokens, long maxPrefillCost) {
    /**
     * The CPU backend's default for {@link #maxPrefillCost}: about 120 fresh prompt tokens per step, 5 at 50,000
     * tokens in. Measured on the demo checkpoint on 2 shared cores with a 45,258-token PDF prefilling: a tiny
     * request's p99 1.5 s at 2^18, 15 s at 2^20 (docs/performance.md).
     */
    public static final long CPU_PREFILL_COST = 1L << 18;

    /**
     * What a token's pass through the weights costs, in attention pairs: on the K2.5 layout the MLA projections and
     * the 8 + 1 experts per token are worth a few thousand (query, key) pairs (the demo checkpoint about 2,200,
     * K2.5 about 7,600); one round figure keeps the budget model-independent.
     */
    public static final long TOKEN_COST = 2048;

    public SchedulerConfig {
        if (maxRunning < 1) {
            throw new IllegalArgumentException("maxRunning must be >= 1, got " + maxRunning);
        }
        if (maxBatchedTokens < maxRunning) {
            throw new IllegalArgumentException("maxBatchedTokens (" + maxBatchedTokens
                    + ") must be >= maxRunning (" + maxRunning + ") so every running sequence can decode");
        }
        if (maxPrefillCost < 0) {
            throw new IllegalArgumentException("maxPrefillCost must be >= 0 (0: no cap), got " + maxPrefillCost);
        }
    }

    /** No cost cap: chunks are limited by the token budget alone. */
    public SchedulerConfig(int maxRunning, int maxBatchedTokens) {
        this(maxRunning, maxBatchedTokens, 0);
    }
}
