package io.peregrine.engine.runtime;

import io.peregrine.engine.parse.OutputFinish;

/** Why one choice stopped. The server maps these to OpenAI's finish_reason. */
public enum FinishReason {
    /** An end-of-turn/EOS token, a stop token id or a stop string. */
    STOP,
    /** max_tokens or the context length. */
    LENGTH,
    /** The client went away or cancelled. */
    ABORT,
    /** The request's deadline passed. */
    TIMEOUT;

    /** The same ending for the output parser, which turns a stop after tool calls into {@code tool_calls}. */
    public OutputFinish outputFinish() {
        return switch (this) {
            case STOP -> OutputFinish.STOP;
            case LENGTH -> OutputFinish.LENGTH;
            case ABORT -> OutputFinish.ABORT;
            case TIMEOUT -> OutputFinish.TIMEOUT;
        };
    }
}
