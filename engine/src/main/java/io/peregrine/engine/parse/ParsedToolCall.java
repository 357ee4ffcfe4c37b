package io.peregrine.engine.parse;

/**
 * A tool call the model made. {@code arguments} is the model's JSON text, unmodified.
 *
 * @param complete false when generation stopped before {@code <|tool_call_end|>} (arguments may be cut)
 */
public record ParsedToolCall(int index, String id, String name, String arguments, boolean complete) {}
