package io.peregrine.server.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.chat.ChatCompletionRequest;
import io.peregrine.api.chat.ChatMessage;
import io.peregrine.api.chat.Tool;
import io.peregrine.api.chat.ToolCall;
import io.peregrine.api.json.Json;
import io.peregrine.engine.chat.AssistantPrefill;
import io.peregrine.engine.chat.HistoryRepair;
import io.peregrine.engine.chat.OpenAiShapes;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Quote;
import io.peregrine.server.http.UnsupportedFields;
import io.peregrine.server.sampling.SamplingInput;
import io.peregrine.server.sampling.SamplingResolver;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** Validates a chat completion request field by field and turns it into a {@link ChatPlan}. */
public final class ChatRequestMapper {
    /** OpenAI's function name rule; every API that maps tools onto chat's holds them to it. */
    public static final Pattern TOOL_NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    public static final int MAX_TOOLS = 128;
    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool");
    private static final ObjectMapper JSON = Json.newMapper();

    private final SamplingResolver sampling;
    private final MediaLimits mediaLimits;

    public ChatRequestMapper(SamplingResolver sampling, MediaLimits mediaLimits) {
        this.sampling = sampling;
        this.mediaLimits = mediaLimits;
    }

    /** @param servedNames names the client may send; the first is the default when {@code model} is absent */
    public ChatPlan map(ChatCompletionRequest r, JsonNode tree, List<String> servedNames) throws ApiException {
        String model = resolveModel(r.model(), servedNames);
        UnsupportedFields.checkChat(tree);
        int priorToolCalls = validateMessages(r.messages());
        List<Tool> tools = validateTools(r.tools());
        ToolChoice toolChoice = toolChoice(r.toolChoice(), tools);
        ThinkingMode thinking = ThinkingResolver.resolve(r.thinking(), r.chatTemplateKwargs(), r.reasoningEffort());

        boolean stream = Boolean.TRUE.equals(r.stream());
        boolean includeUsage = false;
        if (r.streamOptions() != null) {
            if (!stream) {
                throw ApiException.invalid("stream_options is only allowed when stream is true", "stream_options");
            }
            if (Boolean.TRUE.equals(r.streamOptions().continuousUsageStats())) {
                throw ApiException.unsupported("stream_options.continuous_usage_stats is not supported",
                        "stream_options.continuous_usage_stats");
            }
            includeUsage = Boolean.TRUE.equals(r.streamOptions().includeUsage());
        }
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
        var params = sampling.resolve(new SamplingInput(r.temperature(), r.topP(), r.topK(), r.minP(),
                r.presencePenalty(), r.frequencyPenalty(), r.repetitionPenalty(), r.seed(), r.stop(),
                r.stopTokenIds(), r.ignoreEos(), r.n(), topLogprobs), thinking.enabled());
        boolean parallel = r.parallelToolCalls() == null || r.parallelToolCalls();
        boolean continueFinal = continuesFinalMessage(r);
        boolean addGenerationPrompt = !continueFinal && (r.addGenerationPrompt() == null || r.addGenerationPrompt());
        ChatInput input = new ChatInput(r.messages(), tools, toolChoice, thinking, r.chatTemplateKwargs(),
                addGenerationPrompt, continueFinal);
        Integer budget = r.thinkingTokenBudget();
        if (budget != null && budget < 1) {
            throw ApiException.invalid("thinking_token_budget must be at least 1, got " + budget
                    + " (to skip reasoning, turn thinking off)", "thinking_token_budget");
        }
        ThinkingMode outputStart = continueFinal ? outputStart(r.messages().getLast(), thinking) : thinking;
        OutputSpec output = new OutputSpec(outputStart, tools, toolChoice, parallel, priorToolCalls,
                StructuredOutput.grammars(r.responseFormat(), tools), budget);
        return new ChatPlan(model, input, output, params, maxTokens, stream, includeUsage, topLogprobs);
    }

    /**
     * The checks {@link #map} makes on a conversation, for endpoints that render one without generating
     * ({@code /tokenize}): the same messages must get the same answer everywhere.
     */
    public List<Tool> validateConversation(List<ChatMessage> messages, List<Tool> tools) throws ApiException {
        validateMessages(messages);
        return validateTools(tools);
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

    /**
     * Where the output of a partial (prefilled) request starts: inside the reasoning when thinking is on and the
     * prefix has no answer text yet, else in content. Decided by the engine's own rule on the history-repaired
     * message ({@link AssistantPrefill#continuesReasoning}), so the parser starts exactly where the prompt ends.
     */
    public static ThinkingMode outputStart(ChatMessage last, ThinkingMode thinking) throws ApiException {
        io.peregrine.engine.chat.ChatMessage m;
        try {
            m = HistoryRepair.repair(List.of(OpenAiShapes.message(JSON.convertValue(last, Map.class), "messages[-1]")))
                    .getLast();
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(e.getMessage(), "messages");
        }
        return AssistantPrefill.continuesReasoning(m, thinking.enabled()) ? thinking
                : new ThinkingMode(false, thinking.keep());
    }

    public static String resolveModel(String requested, List<String> servedNames) throws ApiException {
        if (requested == null) {
            return servedNames.getFirst();
        }
        if (!servedNames.contains(requested)) {
            throw ApiException.modelNotFound(requested);
        }
        return requested;
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

    /** Returns the number of tool calls already in the history. */
    private int validateMessages(List<ChatMessage> messages) throws ApiException {
        if (messages == null || messages.isEmpty()) {
            throw ApiException.invalid("'messages' must be a non-empty array", "messages");
        }
        int images = 0;
        int videos = 0;
        int priorToolCalls = 0;
        Set<String> called = new HashSet<>();
        List<String> unanswered = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            String at = "messages[" + i + "]";
            if (m == null) {
                throw ApiException.invalid(at + " must be an object", at);
            }
            if (m.role() == null || !ROLES.contains(m.role())) {
                throw ApiException.invalid(at + ".role must be one of " + ROLES.stream().sorted().toList()
                        + ", got " + (m.role() == null ? "nothing" : "'" + m.role() + "'"), at + ".role");
            }
            JsonNode content = m.content();
            if (content == null || content.isNull()) {
                if (!m.role().equals("assistant")) {
                    throw ApiException.invalid(at + ".content is required for role '" + m.role() + "'", at + ".content");
                }
            } else if (content.isArray()) {
                for (int j = 0; j < content.size(); j++) {
                    JsonNode part = content.get(j);
                    String pat = at + ".content[" + j + "]";
                    String type = part.path("type").asText("");
                    switch (type) {
                        case "text" -> {
                            if (!part.path("text").isTextual()) {
                                throw ApiException.invalid(pat + ".text must be a string", pat + ".text");
                            }
                        }
                        case "image_url", "input_image", "file" -> images++; // a PDF counts as one image part here
                        case "video_url" -> videos++;
                        case "input_audio", "audio_url" -> throw ApiException.unsupported(
                                "content parts of type '" + type + "' are not supported", pat + ".type");
                        default -> throw ApiException.invalid(pat + ".type must be 'text', 'image_url', 'video_url' "
                                + "or 'file', got '" + type + "'", pat + ".type");
                    }
                }
            } else if (!content.isTextual()) {
                throw ApiException.invalid(at + ".content must be a string or an array of content parts", at + ".content");
            }
            if (m.role().equals("tool")) {
                answer(m.toolCallId(), called, unanswered, at);
            } else if (m.toolCallId() != null) {
                // Only a tool message answers a call; elsewhere the template would drop it without a word.
                throw ApiException.invalid(at + ".tool_call_id is only allowed on role 'tool'", at + ".tool_call_id");
            }
            if (!m.role().equals("assistant") && (m.reasoningContent() != null || m.reasoning() != null)) {
                String field = m.reasoningContent() != null ? "reasoning_content" : "reasoning";
                throw ApiException.invalid(at + "." + field + " is only allowed on role 'assistant'", at + "." + field);
            }
            if (Boolean.TRUE.equals(m.partial())) {
                if (i != messages.size() - 1 || !m.role().equals("assistant")) {
                    throw ApiException.invalid(at + ".partial is only allowed on the final message, which must be "
                            + "an assistant message", at + ".partial");
                }
                if (m.toolCalls() != null && !m.toolCalls().isEmpty()) {
                    throw ApiException.invalid(at + ": a partial assistant message cannot carry tool_calls",
                            at + ".tool_calls");
                }
            }
            if (m.toolCalls() != null && !m.toolCalls().isEmpty()) {
                if (!m.role().equals("assistant")) {
                    throw ApiException.invalid("only assistant messages may carry tool_calls", at + ".tool_calls");
                }
                for (int j = 0; j < m.toolCalls().size(); j++) {
                    ToolCall c = m.toolCalls().get(j);
                    String cat = at + ".tool_calls[" + j + "]";
                    if (c == null || c.function() == null || c.function().name() == null) {
                        throw ApiException.invalid(cat + ".function.name is required", cat + ".function.name");
                    }
                    if (c.id() == null) {
                        throw ApiException.invalid(cat + ".id is required", cat + ".id");
                    }
                    if (c.type() != null && !c.type().equals("function")) {
                        throw ApiException.invalid(cat + ".type must be 'function', got '" + c.type() + "'",
                                cat + ".type");
                    }
                    JsonNode args = c.function().arguments();
                    if (args != null && !args.isNull() && !args.isTextual() && !args.isObject()) {
                        throw ApiException.invalid(cat + ".function.arguments must be a JSON string or an object",
                                cat + ".function.arguments");
                    }
                }
                priorToolCalls += m.toolCalls().size();
                unanswered.clear();
                for (ToolCall c : m.toolCalls()) {
                    unanswered.add(c.id());
                    called.add(c.id());
                }
            }
        }
        if (images > mediaLimits.images()) {
            throw ApiException.invalid("Too many images: " + images + " in this request, the limit is "
                    + mediaLimits.images(), "messages");
        }
        if (videos > mediaLimits.videos()) {
            throw ApiException.invalid("Too many videos: " + videos + " in this request, the limit is "
                    + mediaLimits.videos(), "messages");
        }
        return priorToolCalls;
    }

    /**
     * A tool message answers a call made earlier in the conversation: a result for a call that was never made is
     * a client bug (a lost or renamed id) that would otherwise be rendered as if the model had asked for it, and
     * OpenAI rejects it too. Without an id it answers the latest turn's next unanswered call, as the template's
     * history repair does.
     */
    private static void answer(String id, Set<String> called, List<String> unanswered, String at) throws ApiException {
        if (id == null || id.isEmpty()) {
            if (unanswered.isEmpty()) {
                throw ApiException.invalid(at + ".tool_call_id is required for role 'tool': no earlier assistant "
                        + "tool call is left for it to answer", at + ".tool_call_id");
            }
            unanswered.removeFirst();
        } else if (!called.contains(id)) {
            throw ApiException.invalid(at + ".tool_call_id '" + Quote.clip(id) + "' does not match any tool call of an "
                    + "earlier assistant message", at + ".tool_call_id");
        } else {
            unanswered.remove(id);
        }
    }


    private static List<Tool> validateTools(List<Tool> tools) throws ApiException {
        if (tools == null) {
            return List.of();
        }
        if (tools.size() > MAX_TOOLS) {
            throw ApiException.invalid("at most " + MAX_TOOLS + " tools are allowed, got " + tools.size(), "tools");
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < tools.size(); i++) {
            Tool t = tools.get(i);
            String at = "tools[" + i + "]";
            if (t == null || !"function".equals(t.type())) {
                throw ApiException.invalid(at + ".type must be 'function'", at + ".type");
            }
            if (t.function() == null || t.function().name() == null || !TOOL_NAME.matcher(t.function().name()).matches()) {
                throw ApiException.invalid(at + ".function.name must be 1-64 letters, digits, '_' or '-'",
                        at + ".function.name");
            }
            if (!names.add(t.function().name())) {
                throw ApiException.invalid("duplicate tool name '" + t.function().name() + "'", at + ".function.name");
            }
            JsonNode params = t.function().parameters();
            if (params != null && !params.isNull() && !params.isObject()) {
                throw ApiException.invalid(at + ".function.parameters must be a JSON Schema object",
                        at + ".function.parameters");
            }
        }
        return tools;
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
