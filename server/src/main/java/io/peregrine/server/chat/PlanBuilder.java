package io.peregrine.server.chat;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.api.chat.ChatMessage;
import io.peregrine.api.chat.Tool;
import io.peregrine.api.chat.ToolCall;
import io.peregrine.engine.chat.AssistantPrefill;
import io.peregrine.engine.chat.HistoryRepair;
import io.peregrine.engine.constrain.OutputGrammars;
import io.peregrine.engine.constrain.json.JsonGrammar;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Quote;
import io.peregrine.server.prompt.ChatInput;
import io.peregrine.server.prompt.MessagePath;
import io.peregrine.server.prompt.OutputSpec;
import io.peregrine.server.prompt.ThinkingMode;
import io.peregrine.server.prompt.ToolChoice;
import io.peregrine.server.sampling.SamplingInput;
import io.peregrine.server.sampling.SamplingResolver;
import io.peregrine.server.sampling.SamplingSettings;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The one front door of the chat-shaped APIs (chat completions, Responses, Anthropic Messages). Each API reads its
 * own wire request, checks what only it has, and hands the fields every API shares to a {@link Draft} in typed
 * form: the conversation, tools, tool choice, thinking switch, sampling, output grammar and max tokens. The checks
 * made here name fields by the API's {@link FieldNames}, so no API rewrites its request in another's shape and no
 * error is caught to be renamed.
 */
public final class PlanBuilder {
    /** OpenAI's function name rule; every API holds its tools to it. */
    public static final Pattern TOOL_NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    public static final int MAX_TOOLS = 128;
    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool");

    private final SamplingResolver sampling;
    private final MediaLimits mediaLimits;

    public PlanBuilder(SamplingResolver sampling, MediaLimits mediaLimits) {
        this.sampling = sampling;
        this.mediaLimits = mediaLimits;
    }

    /**
     * A plan for the model the client named.
     *
     * @param servedNames names the client may send; the first is the default when {@code model} is absent
     */
    public Draft begin(String model, List<String> servedNames, FieldNames names) throws ApiException {
        return new Draft(resolveModel(model, servedNames), names);
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

    /**
     * The checks a plan makes on a conversation and its tools, in chat's names, for endpoints that render one
     * without generating ({@code /tokenize}): the same messages get the same answer everywhere.
     */
    public List<Tool> validateConversation(List<ChatMessage> messages, List<Tool> tools) throws ApiException {
        validateMessages(messages, MessagePath.chat(messages == null ? 0 : messages.size()), FieldNames.CHAT);
        return validateTools(tools, FieldNames.CHAT);
    }

    /** One request's shared fields, given in the order its API checks them; {@link #build} makes the plan. */
    public final class Draft {
        private final String model;
        private final FieldNames names;
        private List<ChatMessage> messages;
        private List<MessagePath> paths;
        private int priorToolCalls;
        private boolean addGenerationPrompt = true;
        private boolean continueFinalMessage;
        private JsonNode templateKwargs;
        private List<Tool> tools = List.of();
        private ToolChoice toolChoice = ToolChoice.NONE;
        private boolean parallelToolCalls = true;
        private ThinkingMode thinking;
        private Integer thinkingBudget;
        private SamplingSettings samplingSettings;
        private JsonGrammar content;
        private Integer maxTokens;
        private String maxTokensField;
        private boolean stream;
        private boolean includeUsage;
        private int topLogprobs = -1;

        private Draft(String model, FieldNames names) {
            this.model = model;
            this.names = names;
        }

        public String model() {
            return model;
        }

        /** Chat's conversation, whose message i is {@code messages[i]}. */
        public Draft conversation(List<ChatMessage> messages, JsonNode templateKwargs) throws ApiException {
            return conversation(messages, MessagePath.chat(messages == null ? 0 : messages.size()), templateKwargs);
        }

        /**
         * The conversation in chat's message shape (each API maps its own history onto it), checked role by role;
         * an error about one message or part names its path in the client's request.
         *
         * @param paths          where each message sits in the client's request
         * @param templateKwargs chat_template_kwargs verbatim (an object or null)
         */
        public Draft conversation(List<ChatMessage> messages, List<MessagePath> paths, JsonNode templateKwargs)
                throws ApiException {
            this.priorToolCalls = validateMessages(messages, paths, names);
            this.messages = messages;
            this.paths = paths;
            this.templateKwargs = templateKwargs;
            return this;
        }

        /**
         * How the prompt ends; without a call, with the assistant's turn opened for a new reply.
         *
         * @param continueFinalMessage partial mode: the final assistant message is a prefix the reply continues
         */
        public Draft promptEnd(boolean addGenerationPrompt, boolean continueFinalMessage) {
            this.addGenerationPrompt = addGenerationPrompt;
            this.continueFinalMessage = continueFinalMessage;
            return this;
        }

        /** Function tools (each API maps its own declarations onto chat's), held to OpenAI's name rule. */
        public Draft tools(List<Tool> declared) throws ApiException {
            this.tools = validateTools(declared, names);
            return this;
        }

        /** The validated tools, for the API's own tool_choice check. */
        public List<Tool> tools() {
            return tools;
        }

        public Draft toolChoice(ToolChoice choice, boolean parallel) {
            this.toolChoice = Objects.requireNonNull(choice);
            this.parallelToolCalls = parallel;
            return this;
        }

        /** @param budget reasoning tokens after which the answer must start, already checked; null: no cap */
        public Draft thinking(ThinkingMode mode, Integer budget) {
            this.thinking = Objects.requireNonNull(mode);
            this.thinkingBudget = budget;
            return this;
        }

        /** Resolved here once (the defaults depend on the thinking switch, so that comes first). */
        public Draft sampling(SamplingInput in) throws ApiException {
            if (thinking == null) {
                throw new IllegalStateException("the thinking switch decides the sampling defaults: set it first");
            }
            this.samplingSettings = sampling.resolve(in, thinking.enabled());
            return this;
        }

        /** @param grammar what the answer's JSON must follow, or null for free text */
        public Draft content(JsonGrammar grammar) {
            this.content = grammar;
            return this;
        }

        /** @param field the client's name for the value, for the error when the prompt leaves no room for it */
        public Draft maxTokens(Integer value, String field) {
            this.maxTokens = value;
            this.maxTokensField = field;
            return this;
        }

        /** @param topLogprobs -1 when logprobs were not asked for */
        public Draft streaming(boolean stream, boolean includeUsage, int topLogprobs) {
            this.stream = stream;
            this.includeUsage = includeUsage;
            this.topLogprobs = topLogprobs;
            return this;
        }

        public ChatPlan build() throws ApiException {
            if (messages == null || thinking == null) {
                throw new IllegalStateException("a plan needs its conversation and thinking switch");
            }
            ThinkingMode outputStart = continueFinalMessage
                    ? outputStart(messages.getLast(), paths.getLast(), thinking, names.conversation()) : thinking;
            OutputGrammars grammars = new OutputGrammars(content,
                    StructuredOutput.arguments(tools, names.toolSchema()));
            ChatInput input = new ChatInput(messages, tools, toolChoice, thinking, templateKwargs,
                    addGenerationPrompt, continueFinalMessage, paths, names.conversation());
            OutputSpec output = new OutputSpec(outputStart, tools, toolChoice, parallelToolCalls, priorToolCalls,
                    grammars, thinkingBudget);
            return new ChatPlan(model, input, output, samplingSettings, maxTokens, maxTokensField, stream,
                    includeUsage, topLogprobs);
        }
    }

    /**
     * Where the output of a partial (prefilled) request starts: inside the reasoning when thinking is on and the
     * prefix has no answer text yet, else in content. Decided by the engine's own rule on the history-repaired
     * message ({@link AssistantPrefill#continuesReasoning}), so the parser starts exactly where the prompt ends.
     */
    static ThinkingMode outputStart(ChatMessage last, MessagePath at, ThinkingMode thinking, String conversation)
            throws ApiException {
        io.peregrine.engine.chat.ChatMessage m;
        try {
            m = HistoryRepair.repair(List.of(EngineMessages.message(last, at))).getLast();
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(e.getMessage(), conversation);
        }
        return AssistantPrefill.continuesReasoning(m, thinking.enabled()) ? thinking
                : new ThinkingMode(false, thinking.keep());
    }

    /** Returns the number of tool calls already in the history. */
    private int validateMessages(List<ChatMessage> messages, List<MessagePath> paths, FieldNames names)
            throws ApiException {
        if (messages == null || messages.isEmpty()) {
            throw ApiException.invalid("'" + names.conversation() + "' must be a non-empty array",
                    names.conversation());
        }
        if (paths.size() != messages.size()) {
            throw new IllegalArgumentException(paths.size() + " paths for " + messages.size() + " messages");
        }
        int images = 0;
        int videos = 0;
        int priorToolCalls = 0;
        Set<String> called = new HashSet<>();
        List<String> unanswered = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            MessagePath where = paths.get(i);
            String at = where.message();
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
                    String pat = where.part(j);
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
                throw ApiException.invalid(at + ".content must be a string or an array of content parts",
                        at + ".content");
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
                    + mediaLimits.images(), names.conversation());
        }
        if (videos > mediaLimits.videos()) {
            throw ApiException.invalid("Too many videos: " + videos + " in this request, the limit is "
                    + mediaLimits.videos(), names.conversation());
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

    private static List<Tool> validateTools(List<Tool> tools, FieldNames names) throws ApiException {
        if (tools == null) {
            return List.of();
        }
        if (tools.size() > MAX_TOOLS) {
            throw ApiException.invalid("at most " + MAX_TOOLS + " tools are allowed, got " + tools.size(), "tools");
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < tools.size(); i++) {
            Tool t = tools.get(i);
            String at = "tools[" + i + "]";
            if (t == null || !"function".equals(t.type())) {
                throw ApiException.invalid(at + ".type must be 'function'", at + ".type");
            }
            String nameAt = names.toolName().apply(i);
            if (t.function() == null || t.function().name() == null || !TOOL_NAME.matcher(t.function().name()).matches()) {
                throw ApiException.invalid(nameAt + " must be 1-64 letters, digits, '_' or '-'", nameAt);
            }
            if (!seen.add(t.function().name())) {
                throw ApiException.invalid("duplicate tool name '" + t.function().name() + "'", nameAt);
            }
            JsonNode params = t.function().parameters();
            if (params != null && !params.isNull() && !params.isObject()) {
                String schemaAt = names.toolSchema().apply(i);
                throw ApiException.invalid(schemaAt + " must be a JSON Schema object", schemaAt);
            }
        }
        return tools;
    }
}
