package io.peregrine.server.anthropic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.peregrine.api.anthropic.MessagesRequest;
import io.peregrine.api.anthropic.ToolDefinition;
import io.peregrine.api.chat.FunctionDefinition;
import io.peregrine.api.chat.Tool;
import io.peregrine.engine.constrain.OutputGrammars;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.server.chat.ChatInput;
import io.peregrine.server.chat.ChatPlan;
import io.peregrine.server.chat.ChatRequestMapper;
import io.peregrine.server.chat.OutputSpec;
import io.peregrine.server.chat.StructuredOutput;
import io.peregrine.server.chat.ThinkingMode;
import io.peregrine.server.chat.ToolChoice;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Quote;
import io.peregrine.server.sampling.SamplingInput;
import io.peregrine.server.sampling.SamplingResolver;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.IntFunction;

/**
 * Validates a Messages API request and maps it onto the chat pipeline's {@link ChatPlan}: the same template,
 * tool declarations, thinking switch, tool_choice constraint, sampling defaults and output parser as
 * {@code /v1/chat/completions}.
 *
 * <p>Thinking: {@code {"type": "enabled"}} (and {@code "adaptive"}) is Kimi's thinking mode, {@code "disabled"}
 * its instant mode; omitted means Kimi's default, thinking, as on every other endpoint. {@code budget_tokens}
 * caps the reasoning (the answer is forced to start once it is spent); like Anthropic, it must be below
 * {@code max_tokens}.
 */
public final class MessagesRequestMapper {
    private final SamplingResolver sampling;
    private final ChatRequestMapper chat;

    /** @param chat the chat endpoint's validation, run on the mapped conversation as well */
    public MessagesRequestMapper(SamplingResolver sampling, ChatRequestMapper chat) {
        this.sampling = sampling;
        this.chat = chat;
    }

    /** @param forCounting a count_tokens request: no max_tokens, nothing about sampling */
    public MessagesPlan map(MessagesRequest r, JsonNode tree, List<String> servedNames, boolean forCounting)
            throws ApiException {
        String model = ChatRequestMapper.resolveModel(r.model(), servedNames);
        MessagesFields.check(tree);
        Integer maxTokens = r.maxTokens();
        if (!forCounting) {
            if (maxTokens == null) {
                throw ApiException.invalid("max_tokens: field required", "max_tokens");
            }
            if (maxTokens < 1) {
                throw ApiException.invalid("max_tokens must be at least 1, got " + maxTokens, "max_tokens");
            }
        }
        AnthropicHistory.Conversation conversation = AnthropicHistory.convert(r.system(), r.messages());
        List<Tool> tools = tools(r.tools());
        OutputGrammars grammars = new OutputGrammars(OutputFormat.of(tree),
                StructuredOutput.arguments(tools, i -> "tools[" + i + "].input_schema"));
        JsonNode choiceNode = r.toolChoice();
        ToolChoice toolChoice = toolChoice(choiceNode, tools);
        boolean parallel = choiceNode == null || !choiceNode.path("disable_parallel_tool_use").asBoolean(false);
        Thinking requested = thinking(r.thinking(), forCounting ? null : maxTokens);
        ThinkingMode thinking = requested.mode();
        if (r.metadata() != null && !r.metadata().isNull() && !r.metadata().isObject()) {
            throw ApiException.invalid("metadata must be an object", "metadata");
        }
        List<String> stops = r.stopSequences() == null ? List.of() : r.stopSequences();
        ArrayNode stopNode = JsonNodeFactory.instance.arrayNode();
        for (int i = 0; i < stops.size(); i++) {
            String s = stops.get(i);
            if (s == null || s.isEmpty()) {
                throw ApiException.invalid("stop_sequences[" + i + "] must be a non-empty string",
                        "stop_sequences[" + i + "]");
            }
            stopNode.add(s);
        }
        chat.validateConversation(conversation.messages(), tools);
        IntFunction<SamplingParams> params = forCounting ? null : sampling(r, stops.isEmpty() ? null : stopNode,
                thinking);
        boolean prefill = conversation.prefill();
        ChatInput input = new ChatInput(conversation.messages(), tools, toolChoice, thinking, null, !prefill, prefill);
        ThinkingMode outputStart = prefill
                ? ChatRequestMapper.outputStart(conversation.messages().getLast(), thinking) : thinking;
        OutputSpec output = new OutputSpec(outputStart, tools, toolChoice, parallel, conversation.priorToolCalls(),
                grammars, requested.budget());
        ChatPlan plan = new ChatPlan(model, input, output, params, maxTokens, Boolean.TRUE.equals(r.stream()), false,
                -1);
        return new MessagesPlan(plan, stops);
    }

    /** Chat's sampling rules; their errors name stop_sequences where chat's say stop. */
    private IntFunction<SamplingParams> sampling(MessagesRequest r, JsonNode stops, ThinkingMode thinking)
            throws ApiException {
        try {
            return sampling.resolve(new SamplingInput(r.temperature(), r.topP(), r.topK(), null, null, null, null,
                    r.seed(), stops, null, null, null, -1), thinking.enabled());
        } catch (ApiException e) {
            String param = e.param();
            throw param != null && (param.equals("stop") || param.startsWith("stop["))
                    ? e.withParam("stop_sequences" + param.substring("stop".length())) : e;
        }
    }

    private static List<Tool> tools(List<ToolDefinition> defs) throws ApiException {
        if (defs == null) {
            return List.of();
        }
        if (defs.size() > ChatRequestMapper.MAX_TOOLS) {
            throw ApiException.invalid("at most " + ChatRequestMapper.MAX_TOOLS + " tools are allowed, got "
                    + defs.size(), "tools");
        }
        List<Tool> tools = new ArrayList<>(defs.size());
        Set<String> names = new HashSet<>();
        for (int i = 0; i < defs.size(); i++) {
            ToolDefinition d = defs.get(i);
            String at = "tools[" + i + "]";
            if (d == null) {
                throw ApiException.invalid(at + " must be an object", at);
            }
            if (d.type() != null && !d.type().equals("custom")) {
                throw ApiException.unsupported(at + ": server tools ('" + Quote.clip(d.type()) + "') are not "
                        + "supported; declare client tools with a name and an input_schema", at + ".type");
            }
            if (d.name() == null || !ChatRequestMapper.TOOL_NAME.matcher(d.name()).matches()) {
                throw ApiException.invalid(at + ".name must be 1-64 letters, digits, '_' or '-'", at + ".name");
            }
            if (!names.add(d.name())) {
                throw ApiException.invalid("duplicate tool name '" + d.name() + "'", at + ".name");
            }
            if (d.inputSchema() == null || !d.inputSchema().isObject()) {
                throw ApiException.invalid(at + ".input_schema must be a JSON Schema object", at + ".input_schema");
            }
            tools.add(new Tool("function", new FunctionDefinition(d.name(), d.description(), d.inputSchema(),
                    d.strict())));
        }
        return tools;
    }

    static ToolChoice toolChoice(JsonNode node, List<Tool> tools) throws ApiException {
        if (node == null || node.isNull()) {
            return tools.isEmpty() ? ToolChoice.NONE : ToolChoice.AUTO;
        }
        String type = node.isObject() && node.path("type").isTextual() ? node.path("type").textValue() : "";
        JsonNode disable = node.get("disable_parallel_tool_use");
        if (disable != null && !disable.isNull() && !disable.isBoolean()) {
            throw ApiException.invalid("tool_choice.disable_parallel_tool_use must be a boolean",
                    "tool_choice.disable_parallel_tool_use");
        }
        ToolChoice choice = switch (type) {
            case "auto" -> tools.isEmpty() ? ToolChoice.NONE : ToolChoice.AUTO;
            case "none" -> ToolChoice.NONE;
            case "any" -> ToolChoice.REQUIRED;
            case "tool" -> {
                if (!node.path("name").isTextual()) {
                    throw ApiException.invalid("tool_choice.name is required for type 'tool'", "tool_choice.name");
                }
                String name = node.path("name").textValue();
                if (tools.stream().noneMatch(t -> t.function().name().equals(name))) {
                    throw ApiException.invalid("tool_choice names tool '" + Quote.clip(name) + "', which is not in "
                            + "'tools'", "tool_choice.name");
                }
                yield new ToolChoice.Named(name);
            }
            default -> throw ApiException.invalid("tool_choice must be {\"type\": \"auto\"}, {\"type\": \"any\"}, "
                    + "{\"type\": \"tool\", \"name\": ...} or {\"type\": \"none\"}", "tool_choice.type");
        };
        if (tools.isEmpty() && choice instanceof ToolChoice.Required) {
            throw ApiException.invalid("tool_choice 'any' requires 'tools'", "tool_choice");
        }
        return choice;
    }

    /** The thinking field: the mode and, when thinking is enabled with one, budget_tokens (else null). */
    record Thinking(ThinkingMode mode, Integer budget) {}

    /** @param maxTokens null when counting tokens */
    static Thinking thinking(JsonNode node, Integer maxTokens) throws ApiException {
        if (node == null || node.isNull()) {
            return new Thinking(ThinkingMode.ENABLED, null);
        }
        if (!node.isObject() || !node.path("type").isTextual()) {
            throw ApiException.invalid("thinking must be {\"type\": \"enabled\", \"budget_tokens\": N} or "
                    + "{\"type\": \"disabled\"}", "thinking");
        }
        String type = node.path("type").textValue();
        JsonNode b = node.get("budget_tokens");
        boolean hasBudget = b != null && !b.isNull();
        switch (type) {
            case "disabled" -> {
                return new Thinking(ThinkingMode.DISABLED, null);
            }
            case "enabled", "adaptive" -> {
                if (hasBudget) {
                    if (!b.isIntegralNumber() || !b.canConvertToInt() || b.intValue() < 1) {
                        throw ApiException.invalid("thinking.budget_tokens must be a positive integer",
                                "thinking.budget_tokens");
                    }
                    if (maxTokens != null && b.intValue() >= maxTokens) {
                        throw ApiException.invalid("thinking.budget_tokens (" + b.intValue() + ") must be less than "
                                + "max_tokens (" + maxTokens + ")", "thinking.budget_tokens");
                    }
                    return new Thinking(ThinkingMode.ENABLED, b.intValue());
                }
                return new Thinking(ThinkingMode.ENABLED, null);
            }
            default -> throw ApiException.invalid("thinking.type must be 'enabled', 'adaptive' or 'disabled', got '"
                    + Quote.clip(type) + "'", "thinking.type");
        }
    }
}
