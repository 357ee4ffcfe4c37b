package io.peregrine.api.completions;

import com.fasterxml.jackson.annotation.JsonInclude;

public record CompletionChoice(
        int index,
        String text,
        @JsonInclude(JsonInclude.Include.ALWAYS) CompletionLogprobs logprobs,
        @JsonInclude(JsonInclude.Include.ALWAYS) String finishReason) {}
