package io.peregrine.api.chat;

import com.fasterxml.jackson.annotation.JsonInclude;

public record ChunkChoice(
        int index,
        Delta delta,
        @JsonInclude(JsonInclude.Include.ALWAYS) ChatLogprobs logprobs,
        @JsonInclude(JsonInclude.Include.ALWAYS) String finishReason) {}
