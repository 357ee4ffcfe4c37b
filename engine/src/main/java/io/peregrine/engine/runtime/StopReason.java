package io.peregrine.engine.runtime;

/** What a choice that finished with {@link FinishReason#STOP} matched, when it was not eos. */
public sealed interface StopReason {
    /** One of the request's stop token ids. */
    record StopToken(int id) implements StopReason {}

    /** One of the request's stop strings; its text and everything after it were not released. */
    record StopString(String text) implements StopReason {}
}
