package io.peregrine.api.chat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * {@code POST /v1/chat/completions} as sent by the OpenAI SDKs plus the vendor extensions Kimi users send
 * (top_k, min_p, repetition_penalty, thinking, chat_template_kwargs, reasoning_effort, vLLM's
 * thinking_token_budget, continue_final_message). Fields whose JSON
 * type varies (string or array, string or object) stay {@link JsonNode} and are interpreted by the server,
 * which owns the error messages for them.
 */
public record ChatCompletionRequest(
        String model,
        List<ChatMessage> messages,
        Boolean stream,
        StreamOptions streamOptions,
        Integer maxTokens,
        Integer maxCompletionTokens,
        Double temperature,
        Double topP,
        Integer topK,
        Double minP,
        Double presencePenalty,
        Double frequencyPenalty,
        Double repetitionPenalty,
        Long seed,
        JsonNode stop,
        List<Integer> stopTokenIds,
        Boolean ignoreEos,
        Integer n,
        Boolean logprobs,
        Integer topLogprobs,
        String user,
        List<Tool> tools,
        JsonNode toolChoice,
        Boolean parallelToolCalls,
        JsonNode thinking,
        JsonNode chatTemplateKwargs,
        Boolean addGenerationPrompt,
        String reasoningEffort,
        JsonNode responseFormat,
        String promptCacheKey,
        String safetyIdentifier,
        Integer thinkingTokenBudget,
        Boolean continueFinalMessage) {}
