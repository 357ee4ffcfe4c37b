package io.peregrine.engine.parse;

/** One streaming piece of the assistant's answer, in the order OpenAI clients expect them. */
public sealed interface OutputDelta {
    /** Reasoning text ({@code delta.reasoning_content}). */
    record Reasoning(String text) implements OutputDelta {}

    /** Answer text ({@code delta.content}). */
    record Content(String text) implements OutputDelta {}

    /** A tool call starts: id, type function and name come first, arguments follow as fragments. */
    record ToolCallBegin(int index, String id, String name) implements OutputDelta {}

    /** More argument text of tool call {@code index}. */
    record ToolCallArguments(int index, String fragment) implements OutputDelta {}
}
