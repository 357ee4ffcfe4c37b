package io.peregrine.engine.sample;

import java.util.List;

/**
 * How one request samples and when it stops. Validation of ranges happens at the API edge; the compact
 * constructor only guards the invariants the engine relies on.
 *
 * @param topK        0 or negative: disabled
 * @param seed        null: not reproducible
 * @param logprobs    -1: none; 0..20: the chosen token's logprob plus that many alternatives
 * @param n           number of choices sharing the prompt
 */
public record SamplingParams(
        double temperature,
        double topP,
        int topK,
        double minP,
        double presencePenalty,
        double frequencyPenalty,
        double repetitionPenalty,
        Long seed,
        int maxTokens,
        List<String> stop,
        List<Integer> stopTokenIds,
        boolean ignoreEos,
        int logprobs,
        int n) {

    public SamplingParams {
        stop = List.copyOf(stop);
        stopTokenIds = List.copyOf(stopTokenIds);
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
        }
        if (n < 1) {
            throw new IllegalArgumentException("n must be >= 1, got " + n);
        }
    }

    public static SamplingParams greedy(int maxTokens) {
        return new SamplingParams(0.0, 1.0, 0, 0.0, 0.0, 0.0, 1.0, null, maxTokens, List.of(), List.of(), false, -1, 1);
    }

    /** What the sampler applies: temperature, truncation and penalties. */
    public io.peregrine.engine.sample.SamplingRule rule() {
        return new io.peregrine.engine.sample.SamplingRule(temperature, topP, topK, minP, presencePenalty,
                frequencyPenalty, repetitionPenalty);
    }

    public boolean isGreedy() {
        return temperature <= 0.0;
    }
}
