package io.peregrine.api.tokenize;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.api.chat.ChatMessage;
import io.peregrine.api.chat.Tool;
import java.util.List;

/**
 * vLLM's {@code POST /tokenize}: either {@code prompt} or {@code messages} (with tools, template kwargs and
 * {@code continue_final_message}, or Moonshot's {@code partial} on the final message).
 */
public record TokenizeRequest(
        String model,
        String prompt,
        List<ChatMessage> messages,
        List<Tool> tools,
        Boolean addSpecialTokens,
        Boolean addGenerationPrompt,
        JsonNode chatTemplateKwargs,
        Boolean returnTokenStrs,
        Boolean continueFinalMessage) {}
