package io.peregrine.api.completions;

import java.util.List;
import java.util.Map;

/** The legacy logprobs shape: parallel arrays, alternatives as token → logprob maps. */
public record CompletionLogprobs(
        List<String> tokens,
        List<Double> tokenLogprobs,
        List<Map<String, Double>> topLogprobs,
        List<Integer> textOffset) {}
