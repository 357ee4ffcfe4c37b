package io.peregrine.engine.chat;

import java.util.Objects;

/** A tool call on an assistant message ({@code id} should be {@code functions.NAME:IDX} for Kimi). */
public record ToolCall(String id, String name, ToolArguments arguments) {
    public ToolCall {
        Objects.requireNonNull(name, "tool call name");
        Objects.requireNonNull(arguments, "tool call arguments");
        id = id == null ? "" : id;
    }
}
