package io.peregrine.engine.sched;

/**
 * Limits of one engine step.
 *
 * @param maxRunning       sequences in the batch at once (forks of an n &gt; 1 request may exceed it briefly)
 * @param maxBatchedTokens tokens fed to the model in one step; a longer prompt is prefilled in chunks of the
 *                         budget that decodes leave over, so it never stalls them
 */
public record SchedulerConfig(int maxRunning, int maxBatchedTokens) {
    public SchedulerConfig {
        if (maxRunning < 1) {
            throw new IllegalArgumentException("maxRunning must be >= 1, got " + maxRunning);
        }
        if (maxBatchedTokens < maxRunning) {
            throw new IllegalArgumentException("maxBatchedTokens (" + maxBatchedTokens
                    + ") must be >= maxRunning (" + maxRunning + ") so every running sequence can decode");
        }
    }
}
