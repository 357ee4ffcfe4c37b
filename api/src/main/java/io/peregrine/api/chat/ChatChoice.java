package io.peregrine.api.chat;

import com.fasterxml.jackson.annotation.JsonInclude;

public record ChatChoice(
        int index,
        ResponseMessage message,
        @JsonInclude(JsonInclude.Include.ALWAYS) ChatLogprobs logprobs,
        String finishReason) {}
