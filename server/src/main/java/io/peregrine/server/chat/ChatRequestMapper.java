package io.peregrine.server.chat;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.api.chat.ChatCompletionRequest;
import io.peregrine.api.chat.ChatMessage;
import io.peregrine.api.chat.StreamOptions;
import io.peregrine.api.chat.Tool;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.UnsupportedFields;
import io.peregrine.server.prompt.ThinkingMode;
import io.peregrine.server.prompt.ToolChoice;
import io.peregrine.server.sampling.SamplingInput;
import io.peregrine.server.sampling.SamplingResolver;
import java.util.List;

/**
 * Reads a chat completion request: what only chat has (stream_options, logprobs, max_tokens and
 * max_completion_tokens, partial mode, response_format, the thinking spellings) is checked here, and the rest goes
 * through the {@link PlanBuilder} every chat-shaped API shares, in chat's field names.
 */
public final class ChatRequestMapper {
    private final PlanBuilder plans;

    public ChatRequestMapper(PlanBuilder plans) {
        this.plans = plans;
    }

    /** @param servedNames names the client may send; the first is the default when {@code model} is absent */
    public ChatPlan map(ChatCompletionRequest r, JsonNode tree, List<String> servedNames) throws ApiException {
        PlanBuilder.Draft plan = plans.begin(r.model(), servedNames, FieldNames.CHAT);
        UnsupportedFields.checkChat(tree);
        plan.conversation(r.messages(), r.chatTemplateKwargs());
        plan.tools(r.tools());
        plan.toolChoice(toolChoice(r.toolChoice(), plan.tools()),
                r.parallelToolCalls() == null || r.parallelToolCalls());
        ThinkingMode thinking = ThinkingResolver.resolve(r.thinking(), r.chatTemplateKwargs(), r.reasoningEffort());

        boolean stream = Boolean.TRUE.equals(r.stream());
        boolean includeUsage = includeUsage(r.streamOptions(), stream);
        Integer maxTokens = maxTokens(r.maxTokens(), r.maxCompletionTokens());
        int topLogprobs = -1;
        if (Boolean.TRUE.equals(r.logprobs())) {
            topLogprobs = r.topLogprobs() == null ? 0 : r.topLogprobs();
            if (topLogprobs < 0 || topLogprobs > 20) {
                throw ApiException.invalid("top_logprobs must be between 0 and 20", "top_logprobs");
            }
        } else if (r.topLogprobs() != null) {
            throw ApiException.invalid("top_logprobs requires logprobs to be true", "top_logprobs");
        }
        SamplingInput sampling = new SamplingInput(r.temperature(), r.topP(), r.topK(), r.minP(),
                r.presencePenalty(), r.frequencyPenalty(), r.repetitionPenalty(), r.seed(),
                SamplingResolver.stopStrings(r.stop()), r.stopTokenIds(), r.ignoreEos(), r.n(), topLogprobs);
        plan.thinking(thinking, r.thinkingTokenBudget()).sampling(sampling);
        boolean continueFinal = continuesFinalMessage(r);
        plan.promptEnd(!continueFinal && (r.addGenerationPrompt() == null || r.addGenerationPrompt()), continueFinal);
        Integer budget = r.thinkingTokenBudget();
        if (budget != null && budget < 1) {
            throw ApiException.invalid("thinking_token_budget must be at least 1, got " + budget
                    + " (to skip reasoning, turn thinking off)", "thinking_token_budget");
        }
        return plan.maxTokens(maxTokens, r.maxCompletionTokens() != null ? "max_completion_tokens" : "max_tokens")
                .streaming(stream, includeUsage, topLogprobs)
                .content(StructuredOutput.content(r.responseFormat()))
                .build();
    }

    /**
     * {@code stream_options} of chat and text completions: allowed only when streaming; whether the last chunk
     * carries the usage.
     */
    public static boolean includeUsage(StreamOptions options, boolean stream) throws ApiException {
        if (options == null) {
            return false;
        }
        if (!stream) {
            throw ApiException.invalid("stream_options is only allowed when stream is true", "stream_options");
        }
        if (Boolean.TRUE.equals(options.continuousUsageStats())) {
            throw ApiException.unsupported("stream_options.continuous_usage_stats is not supported",
                    "stream_options.continuous_usage_stats");
        }
        return Boolean.TRUE.equals(options.includeUsage());
    }

    /**
     * Partial mode: Moonshot's {@code "partial": true} on the final assistant message, or vLLM's
     * {@code continue_final_message} (which, as in vLLM, cannot be combined with {@code add_generation_prompt: true}).
     */
    static boolean continuesFinalMessage(ChatCompletionRequest r) throws ApiException {
        ChatMessage last = r.messages().getLast();
        boolean partial = Boolean.TRUE.equals(last.partial());
        boolean cont = Boolean.TRUE.equals(r.continueFinalMessage());
        if (cont && Boolean.TRUE.equals(r.addGenerationPrompt())) {
            throw ApiException.invalid("continue_final_message and add_generation_prompt cannot both be true",
                    "continue_final_message");
        }
        if ((partial || cont) && !last.role().equals("assistant")) {
            throw ApiException.invalid("continue_final_message needs an assistant message last, got role '"
                    + last.role() + "'", "continue_final_message");
        }
        return partial || cont;
    }

    static Integer maxTokens(Integer maxTokens, Integer maxCompletionTokens) throws ApiException {
        if (maxTokens != null && maxCompletionTokens != null && !maxTokens.equals(maxCompletionTokens)) {
            throw ApiException.invalid("max_tokens and max_completion_tokens disagree; send only max_completion_tokens",
                    "max_completion_tokens");
        }
        Integer v = maxCompletionTokens != null ? maxCompletionTokens : maxTokens;
        if (v != null && v < 1) {
            String field = maxCompletionTokens != null ? "max_completion_tokens" : "max_tokens";
            throw ApiException.invalid(field + " must be at least 1, got " + v, field);
        }
        return v;
    }

    static ToolChoice toolChoice(JsonNode node, List<Tool> tools) throws ApiException {
        if (node == null || node.isNull()) {
            return tools.isEmpty() ? ToolChoice.NONE : ToolChoice.AUTO;
        }
        ToolChoice choice;
        if (node.isTextual()) {
            choice = switch (node.textValue()) {
                case "auto" -> ToolChoice.AUTO;
                case "none" -> ToolChoice.NONE;
                case "required" -> ToolChoice.REQUIRED;
                default -> throw ApiException.invalid("tool_choice must be 'none', 'auto', 'required' or "
                        + "{\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice");
            };
        } else if (node.isObject() && "function".equals(node.path("type").asText())
                && node.path("function").path("name").isTextual()) {
            String name = node.path("function").path("name").textValue();
            if (tools.stream().noneMatch(t -> t.function().name().equals(name))) {
                throw ApiException.invalid("tool_choice names function '" + name + "', which is not in 'tools'",
                        "tool_choice");
            }
            choice = new ToolChoice.Named(name);
        } else {
            throw ApiException.invalid("tool_choice must be 'none', 'auto', 'required' or "
                    + "{\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice");
        }
        if (tools.isEmpty() && !(choice instanceof ToolChoice.None) && !(choice instanceof ToolChoice.Auto)) {
            throw ApiException.invalid("tool_choice '" + node + "' requires 'tools'", "tool_choice");
        }
        return choice;
    }
}
