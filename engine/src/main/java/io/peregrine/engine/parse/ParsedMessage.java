package io.peregrine.engine.parse;

import java.util.List;

/**
 * The assistant message of one choice.
 *
 * @param reasoning            reasoning text, null when there was none
 * @param content              answer text, null when empty (e.g. beside tool calls)
 * @param truncatedInReasoning the output was cut (max_tokens, abort) while still reasoning: the client got no
 *                             answer, only part of the thinking
 */
public record ParsedMessage(String reasoning, String content, List<ParsedToolCall> toolCalls, OutputFinish finish,
                            boolean truncatedInReasoning) {
    public ParsedMessage {
        toolCalls = List.copyOf(toolCalls);
    }
}
