package io.peregrine.api.completions;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * {@code POST /v1/completions}. {@code prompt} is a string, an array of token ids, or a one-element array of
 * either (the server rejects batches of prompts with a 400 rather than half-supporting them).
 *
 * @param logprobs legacy spelling: the number of alternatives per token, 0..20
 * @param addSpecialTokens vLLM's switch for the BOS token in front of a text prompt (default true)
 */
public record CompletionRequest(
        String model,
        JsonNode prompt,
        Boolean stream,
        io.peregrine.api.chat.StreamOptions streamOptions,
        Integer maxTokens,
        Double temperature,
        Double topP,
        Integer topK,
        Double minP,
        Double presencePenalty,
        Double frequencyPenalty,
        Double repetitionPenalty,
        Long seed,
        JsonNode stop,
        List<Integer> stopTokenIds,
        Boolean ignoreEos,
        Integer n,
        Integer logprobs,
        Boolean echo,
        String suffix,
        Integer bestOf,
        JsonNode logitBias,
        String user,
        Boolean addSpecialTokens) {}
