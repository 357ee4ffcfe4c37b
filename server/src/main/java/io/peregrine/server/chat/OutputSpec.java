package io.peregrine.server.chat;

import io.peregrine.api.chat.Tool;
import java.util.List;

/**
 * How one choice's output is to be split.
 *
 * @param priorToolCalls tool calls already in the conversation: Kimi's call ids ({@code functions.name:idx})
 *                       count across the whole conversation, so new ids continue from here
 */
public record OutputSpec(
        ThinkingMode thinking, List<Tool> tools, ToolChoice toolChoice, boolean parallelToolCalls, int priorToolCalls) {
    public OutputSpec {
        tools = tools == null ? List.of() : List.copyOf(tools);
    }
}
