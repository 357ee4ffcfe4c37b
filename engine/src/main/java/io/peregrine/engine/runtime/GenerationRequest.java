package io.peregrine.engine.runtime;

import io.peregrine.engine.model.MediaSpan;
import java.time.Instant;
import java.util.List;

/**
 * One request as the engine sees it: prompt token ids (already templated and tokenized, media placeholders
 * already expanded to one id per vision token) and sampling.
 *
 * @param deadline null: none; past it the request finishes with {@link FinishReason#TIMEOUT}
 * @param media    the vision items spliced into the prompt, sorted by position and disjoint; empty for text
 */
public record GenerationRequest(String requestId, int[] promptIds, SamplingParams sampling, Instant deadline,
                                List<MediaSpan> media) {

    /** A text-only request. */
    public GenerationRequest(String requestId, int[] promptIds, SamplingParams sampling, Instant deadline) {
        this(requestId, promptIds, sampling, deadline, List.of());
    }

    public GenerationRequest {
        promptIds = promptIds.clone();
        if (promptIds.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        media = media == null ? List.of() : List.copyOf(media);
    }

    @Override
    public int[] promptIds() {
        return promptIds.clone();
    }

    public int promptLength() {
        return promptIds.length;
    }

    /** Prompt positions filled by vision embeddings. */
    public int mediaTokens() {
        int n = 0;
        for (MediaSpan m : media) {
            n += m.tokens();
        }
        return n;
    }
}
