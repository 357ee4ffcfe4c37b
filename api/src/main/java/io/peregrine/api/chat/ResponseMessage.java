package io.peregrine.api.chat;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * The assistant message of a non-streamed choice. {@code content} is written even when null (a pure tool
 * call), as OpenAI does. {@code reasoning} mirrors {@code reasoning_content} when the server is configured to
 * emit both spellings.
 */
public record ResponseMessage(
        String role,
        @JsonInclude(JsonInclude.Include.ALWAYS) String content,
        String reasoningContent,
        String reasoning,
        List<ToolCall> toolCalls) {}
