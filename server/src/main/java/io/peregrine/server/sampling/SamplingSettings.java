package io.peregrine.server.sampling;

import io.peregrine.engine.sample.SamplingParams;
import java.util.List;

/**
 * A request's validated sampling, resolved once at the API edge: everything the engine's {@link SamplingParams}
 * holds except max_tokens, which depends on the prompt length and is known only after rendering.
 *
 * @param topK      0: disabled
 * @param logprobs  -1: none
 */
public record SamplingSettings(
        double temperature,
        double topP,
        int topK,
        double minP,
        double presencePenalty,
        double frequencyPenalty,
        double repetitionPenalty,
        Long seed,
        List<String> stop,
        List<Integer> stopTokenIds,
        boolean ignoreEos,
        int logprobs,
        int n) {

    public SamplingSettings {
        stop = List.copyOf(stop);
        stopTokenIds = List.copyOf(stopTokenIds);
    }

    /** The engine's params once the prompt has fixed how many tokens may follow it. */
    public SamplingParams forMaxTokens(int maxTokens) {
        return new SamplingParams(temperature, topP, topK, minP, presencePenalty, frequencyPenalty,
                repetitionPenalty, seed, maxTokens, stop, stopTokenIds, ignoreEos, logprobs, n);
    }
}
