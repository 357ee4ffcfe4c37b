package io.peregrine.api.chat;

import java.util.List;

/** What one streamed chunk adds to a choice. */
public record Delta(String role, String content, String reasoningContent, String reasoning, List<ToolCall> toolCalls) {
    public static final Delta EMPTY = new Delta(null, null, null, null, null);
}
