package io.peregrine.server.sampling;

import java.util.List;

/**
 * The sampling fields of a request, as sent (null: absent), in every API's terms.
 *
 * @param stop stop sequences as read from the request (each API reads its own field: {@link
 *             SamplingResolver#stopStrings}, {@link SamplingResolver#stopSequences})
 */
public record SamplingInput(
        Double temperature,
        Double topP,
        Integer topK,
        Double minP,
        Double presencePenalty,
        Double frequencyPenalty,
        Double repetitionPenalty,
        Long seed,
        List<String> stop,
        List<Integer> stopTokenIds,
        Boolean ignoreEos,
        Integer n,
        int logprobs) {}
