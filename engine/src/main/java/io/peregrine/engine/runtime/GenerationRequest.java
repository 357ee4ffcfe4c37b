package io.peregrine.engine.runtime;

import io.peregrine.engine.parse.ChoiceParser;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sched.MediaSpan;
import io.peregrine.engine.sched.PendingMedia;
import java.time.Instant;
import java.util.List;

/**
 * One request as the engine sees it: prompt token ids (already templated and tokenized, media placeholders
 * already expanded to one id per vision token) and sampling.
 *
 * @param deadline null: none; past it the request finishes with {@link FinishReason#TIMEOUT}
 * @param media    the vision items spliced into the prompt, sorted by position and disjoint; empty for text
 * @param pendingMedia null, or vision items after all of {@code media} whose rows are still being produced (a long
 *                 video's later chunks): the engine prefills up to the first missing one and waits for it; a
 *                 producer failure fails the request, and the engine cancels it when the request ends
 * @param constraint null: sampling is unconstrained; else makes each choice's {@link TokenConstraint}
 * @param parser     null: the output is raw text; else makes each choice's parser, whose typed deltas (reasoning,
 *                   content, tool calls) the events carry
 */
public record GenerationRequest(String requestId, int[] promptIds, SamplingParams sampling, Instant deadline,
                                List<MediaSpan> media, PendingMedia pendingMedia, TokenConstraint.Factory constraint,
                                ChoiceParser.Factory parser) {

    /** A request whose output is raw text. */
    public GenerationRequest(String requestId, int[] promptIds, SamplingParams sampling, Instant deadline,
                             List<MediaSpan> media, PendingMedia pendingMedia, TokenConstraint.Factory constraint) {
        this(requestId, promptIds, sampling, deadline, media, pendingMedia, constraint, null);
    }

    /** An unconstrained request. */
    public GenerationRequest(String requestId, int[] promptIds, SamplingParams sampling, Instant deadline,
                             List<MediaSpan> media, PendingMedia pendingMedia) {
        this(requestId, promptIds, sampling, deadline, media, pendingMedia, null);
    }

    /** A request whose media rows are all there. */
    public GenerationRequest(String requestId, int[] promptIds, SamplingParams sampling, Instant deadline,
                             List<MediaSpan> media) {
        this(requestId, promptIds, sampling, deadline, media, null);
    }

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

    /** This request with each choice constrained by {@code factory} (null: none). */
    public GenerationRequest withConstraint(TokenConstraint.Factory factory) {
        return new GenerationRequest(requestId, promptIds, sampling, deadline, media, pendingMedia, factory, parser);
    }

    /** This request with each choice's output split by a parser from {@code factory} (null: raw text). */
    public GenerationRequest withParser(ChoiceParser.Factory factory) {
        return new GenerationRequest(requestId, promptIds, sampling, deadline, media, pendingMedia, constraint, factory);
    }

    @Override
    public int[] promptIds() {
        return promptIds.clone();
    }

    public int promptLength() {
        return promptIds.length;
    }

    /** Prompt positions filled by vision embeddings, pending ones included. */
    public int mediaTokens() {
        int n = 0;
        for (MediaSpan m : media) {
            n += m.tokens();
        }
        if (pendingMedia != null) {
            for (PendingMedia.Slot s : pendingMedia.slots()) {
                n += s.tokens();
            }
        }
        return n;
    }
}
