package io.peregrine.api.chat;

import io.peregrine.api.common.Usage;
import java.util.List;

/** One SSE event of a streamed chat completion; the usage-only chunk has no choices. */
public record ChatCompletionChunk(
        String id, String object, long created, String model, List<ChunkChoice> choices, Usage usage) {

    public ChatCompletionChunk(String id, long created, String model, List<ChunkChoice> choices, Usage usage) {
        this(id, "chat.completion.chunk", created, model, choices, usage);
    }
}
