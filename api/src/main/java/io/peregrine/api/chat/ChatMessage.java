package io.peregrine.api.chat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * One message of a conversation. A single record rather than one type per role: the OpenAI schema is loose
 * (assistant content may be null, tool messages may carry parts) and the server validates per role with
 * messages that name the offending index. {@code content} is a string, an array of parts, or null.
 */
public record ChatMessage(
        String role,
        JsonNode content,
        String name,
        List<ToolCall> toolCalls,
        String toolCallId,
        String reasoningContent,
        String reasoning,
        Boolean partial) {}
