package io.peregrine.server.prompt;

import io.peregrine.engine.media.MediaProducer;
import io.peregrine.engine.parse.ChoiceParser;
import io.peregrine.engine.runtime.TokenConstraint;
import io.peregrine.engine.sched.MediaSpan;
import java.util.List;

/**
 * A rendered and tokenized conversation.
 *
 * @param tokenIds media placeholders already expanded: one {@code <|media_pad|>} per vision token
 * @param media    the vision items spliced over those pads, in prompt order; empty for text
 * @param laterMedia null, or the encoder of the items after {@code media} (a long video's later chunks): submit
 *                 with its {@link MediaProducer#target()} and then {@link MediaProducer#start() start} it, or
 *                 {@link MediaProducer#discard() discard} it when the prompt is not submitted
 * @param constraint null, or what constrains each choice's sampling (tool_choice required / a named function)
 * @param parser     null, or what splits each choice's output into reasoning, content and tool calls in the engine
 */
public record ChatPrompt(int[] tokenIds, List<MediaSpan> media, MediaProducer laterMedia,
                         TokenConstraint.Factory constraint, ChoiceParser.Factory parser) {

    public ChatPrompt(int[] tokenIds, List<MediaSpan> media, MediaProducer laterMedia) {
        this(tokenIds, media, laterMedia, null, null);
    }

    public ChatPrompt(int[] tokenIds) {
        this(tokenIds, List.of());
    }

    public ChatPrompt(int[] tokenIds, List<MediaSpan> media) {
        this(tokenIds, media, null);
    }

    public ChatPrompt {
        tokenIds = tokenIds.clone();
        media = media == null ? List.of() : List.copyOf(media);
    }

    /** This prompt with each choice's sampling constrained by {@code factory} (null: none). */
    public ChatPrompt withConstraint(TokenConstraint.Factory factory) {
        return new ChatPrompt(tokenIds, media, laterMedia, factory, parser);
    }

    /** This prompt with each choice's output split by a parser from {@code factory} (null: raw text). */
    public ChatPrompt withParser(ChoiceParser.Factory factory) {
        return new ChatPrompt(tokenIds, media, laterMedia, constraint, factory);
    }

    @Override
    public int[] tokenIds() {
        return tokenIds.clone();
    }

    public int length() {
        return tokenIds.length;
    }
}
