package io.peregrine.server.prompt;


/** OpenAI's tool_choice after validation. */
public sealed interface ToolChoice {
    record Auto() implements ToolChoice {}

    record None() implements ToolChoice {}

    record Required() implements ToolChoice {}

    /** The model must call this function. */
    record Named(String name) implements ToolChoice {}

    ToolChoice AUTO = new Auto();
    ToolChoice NONE = new None();
    ToolChoice REQUIRED = new Required();
}
