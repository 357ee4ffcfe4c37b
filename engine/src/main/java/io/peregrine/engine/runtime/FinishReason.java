package io.peregrine.engine.runtime;

/** Why one choice stopped. The server maps these to OpenAI's finish_reason. */
public enum FinishReason {
    /** An end-of-turn/EOS token, a stop token id or a stop string. */
    STOP,
    /** max_tokens or the context length. */
    LENGTH,
    /** The client went away or cancelled. */
    ABORT,
    /** The request's deadline passed. */
    TIMEOUT
}
