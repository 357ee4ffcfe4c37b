package io.peregrine.api.completions;

import io.peregrine.api.common.Usage;
import java.util.List;

/** A legacy text completion, or one streamed chunk of it (same shape, {@code usage} only when asked). */
public record Completion(String id, String object, long created, String model, List<CompletionChoice> choices, Usage usage) {
    public Completion(String id, long created, String model, List<CompletionChoice> choices, Usage usage) {
        this(id, "text_completion", created, model, choices, usage);
    }
}
