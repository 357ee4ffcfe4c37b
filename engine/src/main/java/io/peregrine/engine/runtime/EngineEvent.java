package io.peregrine.engine.runtime;

import io.peregrine.engine.parse.OutputDelta;
import io.peregrine.engine.sample.TokenLogprob;
import java.util.List;

/**
 * What the engine tells a request's {@link EventSink}, in this order: one {@link Scheduled}, then for each
 * choice any number of {@link Tokens} and exactly one {@link Finished}; or a single {@link Failed}.
 * A request aborted or timed out while still queued gets no {@link Scheduled}, only a {@link Finished} per
 * choice. The {@link Tokens} that ends a choice on an eos or stop token id carries that id with no text of its own.
 * A choice ended from outside (abort, deadline, shutdown) may get one {@link Tokens} without ids before its
 * {@link Finished}: what the end released and its parser's last deltas.
 */
public sealed interface EngineEvent {

    /** The request left the waiting queue and its prefill began. */
    record Scheduled(String requestId, int promptTokens, int cachedPromptTokens, long queueNanos) implements EngineEvent {}

    /**
     * New tokens of one choice and what they released: each id is turned into text once, in the engine, and that
     * text is both the raw stream and what the request's output parser splits.
     *
     * @param tokenIds        the ids sampled this step (with their {@code logprobs})
     * @param text            the newly released text (never half a UTF-8 character); stop strings are already cut
     *                        from it, and text that could still begin one is held back
     * @param outputIds       the ids whose text this event releases: {@code tokenIds} themselves, unless text was
     *                        held back for a possible stop string (then the held ids follow later); the ids
     *                        {@code output} came from
     * @param output          the request's parser's deltas for {@code outputIds} (reasoning, content, tool-call
     *                        parts), adjacent text of one kind merged; empty for a request without a parser
     * @param reasoningTokens how many of {@code outputIds} were generated inside reasoning
     */
    record Tokens(int choice, int[] tokenIds, String text, List<TokenLogprob> logprobs, int[] outputIds,
                  List<OutputDelta> output, int reasoningTokens) implements EngineEvent {
        public Tokens {
            tokenIds = tokenIds.clone();
            logprobs = logprobs == null ? List.of() : List.copyOf(logprobs);
            outputIds = outputIds == null ? tokenIds.clone() : outputIds.clone();
            output = output == null ? List.of() : List.copyOf(output);
        }

        /** Tokens of a request without an output parser whose text was released with them. */
        public Tokens(int choice, int[] tokenIds, String text, List<TokenLogprob> logprobs) {
            this(choice, tokenIds, text, logprobs, null, List.of(), 0);
        }

        static Tokens of(int choice, int[] tokenIds, List<TokenLogprob> logprobs, ChoiceOutput.Released r) {
            return new Tokens(choice, tokenIds, r.text(), logprobs, r.ids(), r.deltas(), r.reasoningTokens());
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
