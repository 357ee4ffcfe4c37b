package io.peregrine.engine.model;

import io.peregrine.engine.sample.SamplingBatch;

/**
 * A step's logits where the model computed them, valid until its next step: sampling them brings back only the
 * sampled ids and the requested logprobs.
 */
@FunctionalInterface
public interface StepLogits {
    /**
     * Samples every row of {@code batch}; its logits rows are the step's in batch order: one per slice (its last
     * token), or every token of a slice that asked for all logits.
     */
    void sample(SamplingBatch batch);
}
