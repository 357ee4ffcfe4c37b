package io.peregrine.server.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/** The sampling fields of a chat or text completion request, as sent (null: absent). */
public record SamplingInput(
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
        int logprobs) {}
