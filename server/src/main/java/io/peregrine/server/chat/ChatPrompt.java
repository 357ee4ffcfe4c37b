package io.peregrine.server.chat;

import io.peregrine.engine.model.MediaSpan;
import java.util.List;

/**
 * A rendered and tokenized conversation.
 *
 * @param tokenIds media placeholders already expanded: one {@code <|media_pad|>} per vision token
 * @param media    the vision items spliced over those pads, in prompt order; empty for text
 */
public record ChatPrompt(int[] tokenIds, List<MediaSpan> media) {

    public ChatPrompt(int[] tokenIds) {
        this(tokenIds, List.of());
    }

    public ChatPrompt {
        tokenIds = tokenIds.clone();
        media = media == null ? List.of() : List.copyOf(media);
    }

    @Override
    public int[] tokenIds() {
        return tokenIds.clone();
    }

    public int length() {
        return tokenIds.length;
    }
}
