package io.peregrine.engine.chat;

import java.util.List;
import java.util.Objects;

/**
 * One chat message, independent of the wire format. {@code content} is null when the message had none (or
 * {@code null}); string content is a single {@link ContentPart.Text}. {@code reasoningContent} and
 * {@code reasoning} are kept apart because the K2.5 template reads only the first while K2.6 reads both;
 * {@link HistoryRepair} merges them.
 */
public record ChatMessage(String role, List<ContentPart> content, String name, String reasoningContent,
                          String reasoning, List<ToolCall> toolCalls, String toolCallId) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        if (role.isEmpty()) {
            throw new IllegalArgumentException("message role is empty");
        }
        content = content == null ? null : List.copyOf(content);
        toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
    }

    public static ChatMessage system(String text) {
        return new ChatMessage("system", text(text), null, null, null, null, null);
    }

    public static ChatMessage user(String text) {
        return new ChatMessage("user", text(text), null, null, null, null, null);
    }

    public static ChatMessage user(List<ContentPart> parts) {
        return new ChatMessage("user", parts, null, null, null, null, null);
    }

    public static ChatMessage assistant(String text) {
        return new ChatMessage("assistant", text(text), null, null, null, null, null);
    }

    public static ChatMessage assistant(String text, String reasoningContent, List<ToolCall> toolCalls) {
        return new ChatMessage("assistant", text(text), null, reasoningContent, null, toolCalls, null);
    }

    public static ChatMessage tool(String toolCallId, String name, String text) {
        return new ChatMessage("tool", text(text), name, null, null, null, toolCallId);
    }

    private static List<ContentPart> text(String s) {
        return s == null ? null : List.of(new ContentPart.Text(s));
    }

    public boolean hasToolCalls() {
        return !toolCalls.isEmpty();
    }

    /** The concatenated text parts (media parts ignored); "" without content. */
    public String text() {
        if (content == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        for (ContentPart p : content) {
            if (p instanceof ContentPart.Text t) {
                sb.append(t.text());
            }
        }
        return sb.toString();
    }

    public ChatMessage withContent(List<ContentPart> newContent) {
        return new ChatMessage(role, newContent, name, reasoningContent, reasoning, toolCalls, toolCallId);
    }

    public ChatMessage withReasoning(String newReasoningContent, String newReasoning) {
        return new ChatMessage(role, content, name, newReasoningContent, newReasoning, toolCalls, toolCallId);
    }

    public ChatMessage withToolCalls(List<ToolCall> calls) {
        return new ChatMessage(role, content, name, reasoningContent, reasoning, calls, toolCallId);
    }

    public ChatMessage withToolCallId(String id) {
        return new ChatMessage(role, content, name, reasoningContent, reasoning, toolCalls, id);
    }

    public ChatMessage withName(String newName) {
        return new ChatMessage(role, content, newName, reasoningContent, reasoning, toolCalls, toolCallId);
    }
}
