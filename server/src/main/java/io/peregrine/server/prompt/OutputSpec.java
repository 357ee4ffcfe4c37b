package io.peregrine.server.prompt;

import io.peregrine.api.chat.Tool;
import io.peregrine.engine.constrain.OutputGrammars;
import java.util.List;

/**
 * What one choice's output must obey and how it is to be split.
 *
 * @param thinking       where the output starts: inside reasoning when enabled. The request's resolved switch,
 *                       except in partial mode, where a prefix with content is continued as content
 * @param priorToolCalls tool calls already in the conversation: Kimi's call ids ({@code functions.name:idx})
 *                       count across the whole conversation, so new ids continue from here
 * @param grammars       the JSON the content (response_format) and strict tools' arguments must follow
 * @param thinkingBudget reasoning tokens after which the answer is forced to start (chat's
 *                       {@code thinking_token_budget}, Anthropic's {@code budget_tokens}), or null for no cap;
 *                       in instant mode there is no reasoning, and the prompt builder leaves it unused
 */
public record OutputSpec(
        ThinkingMode thinking, List<Tool> tools, ToolChoice toolChoice, boolean parallelToolCalls, int priorToolCalls,
        OutputGrammars grammars, Integer thinkingBudget) {
    public OutputSpec {
        tools = tools == null ? List.of() : List.copyOf(tools);
        grammars = grammars == null ? OutputGrammars.NONE : grammars;
        if (thinkingBudget != null && thinkingBudget < 1) {
            throw new IllegalArgumentException("thinking budget " + thinkingBudget);
        }
    }

    /** Free-text content; tools' arguments any JSON object. */
    public OutputSpec(ThinkingMode thinking, List<Tool> tools, ToolChoice toolChoice, boolean parallelToolCalls,
                      int priorToolCalls) {
        this(thinking, tools, toolChoice, parallelToolCalls, priorToolCalls, OutputGrammars.NONE, null);
    }
}
