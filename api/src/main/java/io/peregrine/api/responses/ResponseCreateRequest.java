package io.peregrine.api.responses;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * {@code POST /v1/responses} (and {@code /v1/responses/input_tokens}) as sent by the OpenAI SDKs, Codex CLI and
 * the Agents SDK, plus the extensions Kimi users send to chat too (top_k, min_p, penalties, seed, ignore_eos, and the thinking switch
 * as {@code thinking} or {@code chat_template_kwargs}). {@code input}
 * is a string or an array of items whose shape depends on their type, so it stays {@link JsonNode} and the
 * server, which owns the error messages, reads each item as a {@link ResponseInputItem}.
 */
public record ResponseCreateRequest(
        String model,
        JsonNode input,
        String instructions,
        List<ResponseTool> tools,
        JsonNode toolChoice,
        Boolean parallelToolCalls,
        Integer maxOutputTokens,
        Double temperature,
        Double topP,
        ReasoningConfig reasoning,
        TextConfig text,
        Boolean stream,
        Boolean store,
        String previousResponseId,
        JsonNode metadata,
        String user,
        List<String> include,
        String truncation,
        Boolean background,
        Integer topLogprobs,
        Integer maxToolCalls,
        JsonNode conversation,
        JsonNode prompt,
        JsonNode streamOptions,
        String promptCacheKey,
        String safetyIdentifier,
        String serviceTier,
        Integer topK,
        Double minP,
        Double presencePenalty,
        Double frequencyPenalty,
        Double repetitionPenalty,
        Long seed,
        Boolean ignoreEos,
        JsonNode thinking,
        JsonNode chatTemplateKwargs) {

    /** @param summary "auto" / "concise" / "detailed": accepted; Kimi's reasoning is returned as reasoning_text */
    public record ReasoningConfig(String effort, String summary, String generateSummary) {}

    /** @param format {@code {"type": "text"}}, or a JSON mode the server may not support */
    public record TextConfig(JsonNode format, String verbosity) {}
}
