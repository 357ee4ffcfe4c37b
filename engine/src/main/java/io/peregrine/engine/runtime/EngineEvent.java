package io.peregrine.engine.runtime;

import io.peregrine.engine.sample.TokenLogprob;
import java.util.List;

/**
 * What the engine tells a request's {@link EventSink}, in this order: one {@link Scheduled}, then for each
 * choice any number of {@link Tokens} and exactly one {@link Finished}; or a single {@link Failed}.
 * A request aborted or timed out while still queued gets no {@link Scheduled}, only a {@link Finished} per
 * choice. The {@link Tokens} that ends a choice on an eos or stop token id carries that id with no text.
 */
public sealed interface EngineEvent {

    /** The request left the waiting queue and its prefill began. */
    record Scheduled(String requestId, int promptTokens, int cachedPromptTokens, long queueNanos) implements EngineEvent {}

    /**
     * New tokens of one choice. {@code text} is the newly stable detokenized text (never half a UTF-8
     * character); stop strings are already cut from it.
     */
    record Tokens(int choice, int[] tokenIds, String text, List<TokenLogprob> logprobs) implements EngineEvent {
        public Tokens {
            tokenIds = tokenIds.clone();
            logprobs = logprobs == null ? List.of() : List.copyOf(logprobs);
        }
    }

    /** @param stopReason the matched stop string or stop token id; null for eos, length, abort and the rest */
    record Finished(int choice, FinishReason reason, StopReason stopReason, int completionTokens) implements EngineEvent {}

    /**
     * The request could not run (it is not retried).
     *
     * @param invalidInput the request's own input was bad (media that failed to decode after submission): a client
     *                     error rather than the engine's
     */
    record Failed(String requestId, String message, boolean invalidInput) implements EngineEvent {
        /** An engine failure. */
        public Failed(String requestId, String message) {
            this(requestId, message, false);
        }
    }
}
