package io.peregrine.engine.runtime;

import java.time.Instant;

/**
 * One request as the engine sees it: prompt token ids (already templated and tokenized) and sampling.
 *
 * @param deadline null: none; past it the request finishes with {@link FinishReason#TIMEOUT}
 */
public record GenerationRequest(String requestId, int[] promptIds, SamplingParams sampling, Instant deadline) {
    public GenerationRequest {
        promptIds = promptIds.clone();
        if (promptIds.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
    }

    @Override
    public int[] promptIds() {
        return promptIds.clone();
    }

    public int promptLength() {
        return promptIds.length;
    }
}
