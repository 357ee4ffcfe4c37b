package io.peregrine.server.wiring;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.json.Json;
import io.peregrine.engine.chat.ChatMessage;
import io.peregrine.engine.chat.OpenAiShapes;
import io.peregrine.engine.chat.PromptEncoder;
import io.peregrine.engine.chat.RenderOptions;
import io.peregrine.engine.chat.Tool;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import io.peregrine.server.chat.ChatInput;
import io.peregrine.server.chat.ChatPrompt;
import io.peregrine.server.chat.ChatPromptBuilder;
import io.peregrine.server.chat.InvalidPromptException;
import io.peregrine.server.chat.ToolChoice;
import java.util.List;

/**
 * Renders a validated chat request with the checkpoint's own template (engine {@link PromptEncoder}): the api
 * records go through their JSON shape into the engine's message model, so the engine never sees Jackson types.
 */
public final class KimiChatPromptBuilder implements ChatPromptBuilder {
    private final PromptEncoder encoder;
    private final ObjectMapper json = Json.newMapper();

    public KimiChatPromptBuilder(PromptEncoder encoder) {
        this.encoder = encoder;
    }

    @Override
    public ChatPrompt build(ChatInput input) throws InvalidPromptException {
        // Kimi's own API answers tool_choice "required" with an error too: without constrained decoding the
        // server cannot make the model call a tool, and pretending would silently drop the field.
        switch (input.toolChoice()) {
            case ToolChoice.Required r -> throw new InvalidPromptException(
                    "tool_choice 'required' is not supported (no constrained decoding yet); use 'auto' or 'none'", "tool_choice");
            case ToolChoice.Named n -> throw new InvalidPromptException(
                    "tool_choice naming a function is not supported (no constrained decoding yet); use 'auto' or 'none'", "tool_choice");
            case null, default -> { }
        }
        try {
            List<?> rawMessages = json.convertValue(input.messages(), List.class);
            List<ChatMessage> messages = OpenAiShapes.messages(rawMessages);
            boolean toolsOff = input.toolChoice() instanceof ToolChoice.None;
            List<Tool> tools = toolsOff || input.tools().isEmpty()
                    ? List.of() : OpenAiShapes.tools(json.convertValue(input.tools(), List.class));
            boolean preserve = input.thinking().keep() != null && input.thinking().keep().equals("all")
                    || flag(input.templateKwargs(), "preserve_thinking");
            RenderOptions options = new RenderOptions(input.addGenerationPrompt(), input.thinking().enabled(), preserve);
            int[] ids = encoder.encode(messages, tools, options, SpecialTextPolicy.AS_TEXT).ids();
            return new ChatPrompt(ids);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new InvalidPromptException(e.getMessage(), null);
        }
    }

    private static boolean flag(JsonNode kwargs, String name) {
        return kwargs != null && kwargs.path(name).asBoolean(false);
    }
}
