package io.peregrine.api.chat;

import io.peregrine.api.common.Usage;
import java.util.List;

/** A non-streamed chat completion. */
public record ChatCompletion(
        String id, String object, long created, String model, List<ChatChoice> choices, Usage usage) {

    public ChatCompletion(String id, long created, String model, List<ChatChoice> choices, Usage usage) {
        this(id, "chat.completion", created, model, choices, usage);
    }
}
