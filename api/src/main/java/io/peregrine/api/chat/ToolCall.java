package io.peregrine.api.chat;

/**
 * A tool call: in an assistant message of the history, in a response message, and (with {@code index} and
 * only the new fragment of {@code arguments}) in a streamed delta.
 */
public record ToolCall(Integer index, String id, String type, FunctionCall function) {}
