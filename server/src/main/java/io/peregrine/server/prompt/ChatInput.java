package io.peregrine.server.prompt;

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
 * @param paths                where each message sits in the client's request, for errors about one message or part
 * @param conversation         the client's name for the conversation as a whole ({@code messages}, {@code input})
 */
public record ChatInput(
        List<ChatMessage> messages,
        List<Tool> tools,
        ToolChoice toolChoice,
        ThinkingMode thinking,
        JsonNode templateKwargs,
        boolean addGenerationPrompt,
        boolean continueFinalMessage,
        List<MessagePath> paths,
        String conversation) {

    public ChatInput {
        messages = List.copyOf(messages);
        tools = tools == null ? List.of() : List.copyOf(tools);
        paths = List.copyOf(paths);
        if (paths.size() != messages.size()) {
            throw new IllegalArgumentException(paths.size() + " paths for " + messages.size() + " messages");
        }
    }

    /** A conversation in chat's names ({@code messages[i]}). */
    public ChatInput(List<ChatMessage> messages, List<Tool> tools, ToolChoice toolChoice, ThinkingMode thinking,
                     JsonNode templateKwargs, boolean addGenerationPrompt, boolean continueFinalMessage) {
        this(messages, tools, toolChoice, thinking, templateKwargs, addGenerationPrompt, continueFinalMessage,
                MessagePath.chat(messages.size()), "messages");
    }

    public ChatInput(List<ChatMessage> messages, List<Tool> tools, ToolChoice toolChoice, ThinkingMode thinking,
                     JsonNode templateKwargs, boolean addGenerationPrompt) {
        this(messages, tools, toolChoice, thinking, templateKwargs, addGenerationPrompt, false);
    }

    /** The client's path of content part k of message i. */
    public String partPath(int message, int part) {
        return paths.get(message).part(part);
    }

    /** Whether any message carries an image, video or file part (whose tokens cost more to produce than to count). */
    public boolean hasMedia() {
        return MediaMessages.firstMedia(messages, this::partPath) != null;
    }
}
