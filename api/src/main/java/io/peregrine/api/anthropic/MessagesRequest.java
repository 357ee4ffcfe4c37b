package io.peregrine.api.anthropic;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * An Anthropic Messages API request ({@code POST /v1/messages}, and {@code /v1/messages/count_tokens}, which
 * sends the same fields without {@code max_tokens}). Fields whose JSON shape varies ({@code system} is a string
 * or text blocks, {@code tool_choice} and {@code thinking} are tagged objects) stay as JSON and are validated by
 * the server with messages that name the path.
 *
 * @param seed a Peregrine extension (Anthropic has none): makes a sampled request reproducible
 */
public record MessagesRequest(
        String model,
        Integer maxTokens,
        JsonNode system,
        List<InputMessage> messages,
        List<ToolDefinition> tools,
        JsonNode toolChoice,
        JsonNode thinking,
        List<String> stopSequences,
        Double temperature,
        Double topP,
        Integer topK,
        JsonNode metadata,
        Boolean stream,
        String serviceTier,
        Long seed) {}
