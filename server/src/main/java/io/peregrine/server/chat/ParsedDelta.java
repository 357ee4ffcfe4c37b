package io.peregrine.server.chat;

import java.util.List;

/**
 * What one parser step made certain. Null strings mean "nothing new".
 *
 * @param reasoningTokens how many of the fed tokens belonged to reasoning (for usage.reasoning_tokens)
 */
public record ParsedDelta(String reasoning, String content, List<ToolCallDelta> toolCalls, int reasoningTokens) {
    public static final ParsedDelta EMPTY = new ParsedDelta(null, null, List.of(), 0);

    public ParsedDelta {
        toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
    }

    public boolean isEmpty() {
        return (reasoning == null || reasoning.isEmpty()) && (content == null || content.isEmpty()) && toolCalls.isEmpty();
    }
}
