package io.peregrine.server.wiring;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.json.Json;
import io.peregrine.engine.chat.ChatMessage;
import io.peregrine.engine.chat.PromptEncoder;
import io.peregrine.engine.chat.RenderOptions;
import io.peregrine.engine.chat.Tool;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import io.peregrine.server.chat.EngineMessages;
import io.peregrine.server.prompt.ChatInput;
import io.peregrine.server.prompt.ToolChoice;
import java.util.List;
import java.util.Map;

/**
 * Renders a conversation, already in the engine's message model, with the checkpoint's own template (engine
 * {@link PromptEncoder}) and tokenizes it.
 */
final class TemplateRenderer {
    private static final ObjectMapper JSON = Json.newMapper();

    private final PromptEncoder encoder;

    TemplateRenderer(PromptEncoder encoder) {
        this.encoder = encoder;
    }

    KimiTokenizer tokenizer() {
        return encoder.tokenizer();
    }

    /** The prompt, rendered with the request's switches (tool_choice none drops the tools from the prompt). */
    PromptEncoder.EncodedPrompt encode(ChatInput input, List<ChatMessage> messages) {
        boolean toolsOff = input.toolChoice() instanceof ToolChoice.None;
        List<Tool> tools = toolsOff || input.tools().isEmpty() ? List.of() : EngineMessages.tools(input.tools());
        boolean preserve = input.thinking().keep() != null && input.thinking().keep().equals("all")
                || flag(input.templateKwargs(), "preserve_thinking");
        RenderOptions options = new RenderOptions(input.addGenerationPrompt(), input.thinking().enabled(), preserve,
                input.continueFinalMessage(), templateKwargs(input.templateKwargs()));
        return encoder.encode(messages, tools, options, SpecialTextPolicy.AS_TEXT);
    }

    /** chat_template_kwargs as plain values, for a template rendered by the Jinja engine. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> templateKwargs(JsonNode kwargs) {
        return kwargs == null || !kwargs.isObject() ? Map.of() : JSON.convertValue(kwargs, Map.class);
    }

    private static boolean flag(JsonNode kwargs, String name) {
        return kwargs != null && kwargs.path(name).asBoolean(false);
    }
}
