package io.peregrine.server.anthropic;

import io.peregrine.server.chat.ChatPlan;
import java.util.List;

/**
 * A validated Messages API request: the chat pipeline's plan plus what only Anthropic's reply reports.
 *
 * @param stopSequences the client's stop_sequences: a stop on one of them is {@code stop_reason: stop_sequence}
 */
public record MessagesPlan(ChatPlan chat, List<String> stopSequences) {
    public MessagesPlan {
        stopSequences = List.copyOf(stopSequences);
    }
}
