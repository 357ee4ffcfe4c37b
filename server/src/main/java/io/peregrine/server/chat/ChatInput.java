package io.peregrine.server.chat;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.api.chat.ChatMessage;
import io.peregrine.api.chat.Tool;
import io.peregrine.server.media.MediaMessages;
import java.util.List;

/**
 * What a {@link ChatPromptBuilder} renders: the validated conversation (text-only for now), the tools and the
 * resolved switches. {@code templateKwargs} is the client's {@code chat_template_kwargs} verbatim (an object
 * or null) for template variables beyond the thinking switch, which is already resolved into {@code thinking}.
 *
 * @param continueFinalMessage partial mode: the final assistant message is a prefix the model continues (Moonshot's
 *                             {@code partial}, vLLM's {@code continue_final_message}, Anthropic's prefill)
 */
public record ChatInput(
        List<ChatMessage> messages,
        List<Tool> tools,
        ToolChoice toolChoice,
        ThinkingMode thinking,
        JsonNode templateKwargs,
        boolean addGenerationPrompt,
        boolean continueFinalMessage) {

    public ChatInput {
        messages = List.copyOf(messages);
        tools = tools == null ? List.of() : List.copyOf(tools);
    }

    public ChatInput(List<ChatMessage> messages, List<Tool> tools, ToolChoice toolChoice, ThinkingMode thinking,
                     JsonNode templateKwargs, boolean addGenerationPrompt) {
        this(messages, tools, toolChoice, thinking, templateKwargs, addGenerationPrompt, false);
    }

    /** Whether any message carries an image, video or file part (whose tokens cost more to produce than to count). */
    public boolean hasMedia() {
        return MediaMessages.firstMedia(messages) != null;
    }
}
