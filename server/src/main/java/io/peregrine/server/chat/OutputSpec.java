package io.peregrine.server.chat;

import io.peregrine.api.chat.Tool;
import io.peregrine.engine.constrain.OutputGrammars;
import java.util.List;

/**
 * How one choice's output is to be split.
 *
 * @param priorToolCalls tool calls already in the conversation: Kimi's call ids ({@code functions.name:idx})
 *                       count across the whole conversation, so new ids continue from here
 * @param grammars       the JSON the content (response_format) and strict tools' arguments must follow
 */
public record OutputSpec(
        ThinkingMode thinking, List<Tool> tools, ToolChoice toolChoice, boolean parallelToolCalls, int priorToolCalls,
        OutputGrammars grammars) {
    public OutputSpec {
        tools = tools == null ? List.of() : List.copyOf(tools);
        grammars = grammars == null ? OutputGrammars.NONE : grammars;
    }

    /** Free-text content; tools' arguments any JSON object. */
    public OutputSpec(ThinkingMode thinking, List<Tool> tools, ToolChoice toolChoice, boolean parallelToolCalls,
                      int priorToolCalls) {
        this(thinking, tools, toolChoice, parallelToolCalls, priorToolCalls, OutputGrammars.NONE);
    }
}
