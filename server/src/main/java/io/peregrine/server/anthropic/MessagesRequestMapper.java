package io.peregrine.server.anthropic;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.api.anthropic.MessagesRequest;
import io.peregrine.api.anthropic.ToolDefinition;
import io.peregrine.api.chat.FunctionDefinition;
import io.peregrine.api.chat.Tool;
import io.peregrine.engine.constrain.json.JsonGrammar;
import io.peregrine.server.chat.FieldNames;
import io.peregrine.server.chat.PlanBuilder;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Quote;
import io.peregrine.server.prompt.ThinkingMode;
import io.peregrine.server.prompt.ToolChoice;
import io.peregrine.server.sampling.SamplingInput;
import io.peregrine.server.sampling.SamplingResolver;
import java.util.ArrayList;
import java.util.List;

/**
 * Validates a Messages API request and plans it through the {@link PlanBuilder} every chat-shaped API shares: the
 * same template, tool declarations, thinking switch, tool_choice constraint, sampling defaults and output parser as
 * {@code /v1/chat/completions}, with the shared checks naming this API's fields ({@link #NAMES}).
 *
 * <p>Thinking: {@code {"type": "enabled"}} (and {@code "adaptive"}) is Kimi's thinking mode, {@code "disabled"}
 * its instant mode; omitted means Kimi's default, thinking, as on every other endpoint. {@code budget_tokens}
 * caps the reasoning (the answer is forced to start once it is spent); like Anthropic, it must be below
 * {@code max_tokens}.
 */
public final class MessagesRequestMapper {
    static final FieldNames NAMES = new FieldNames("messages", i -> "tools[" + i + "].name",
            i -> "tools[" + i + "].input_schema");

    private final PlanBuilder plans;

    public MessagesRequestMapper(PlanBuilder plans) {
        this.plans = plans;
    }

    /** @param forCounting a count_tokens request: no max_tokens, nothing about sampling */
    public MessagesPlan map(MessagesRequest r, JsonNode tree, List<String> servedNames, boolean forCounting)
            throws ApiException {
        PlanBuilder.Draft plan = plans.begin(r.model(), servedNames, NAMES);
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
        List<Tool> tools = plan.tools(tools(r.tools())).tools();
        JsonGrammar content = OutputFormat.of(tree);
        JsonNode choiceNode = r.toolChoice();
        ToolChoice toolChoice = toolChoice(choiceNode, tools);
        boolean parallel = choiceNode == null || !choiceNode.path("disable_parallel_tool_use").asBoolean(false);
        Thinking requested = thinking(r.thinking(), forCounting ? null : maxTokens);
        if (r.metadata() != null && !r.metadata().isNull() && !r.metadata().isObject()) {
            throw ApiException.invalid("metadata must be an object", "metadata");
        }
        List<String> stops = r.stopSequences() == null ? List.of() : r.stopSequences();
        for (int i = 0; i < stops.size(); i++) {
            String s = stops.get(i);
            if (s == null || s.isEmpty()) {
                throw ApiException.invalid("stop_sequences[" + i + "] must be a non-empty string",
                        "stop_sequences[" + i + "]");
            }
        }
        boolean prefill = conversation.prefill();
        plan.conversation(conversation.messages(), conversation.paths(), null)
                .toolChoice(toolChoice, parallel)
                .thinking(requested.mode(), requested.budget())
                .promptEnd(!prefill, prefill)
                .content(content)
                .maxTokens(maxTokens, "max_tokens")
                .streaming(Boolean.TRUE.equals(r.stream()), false, -1);
        if (!forCounting) {
            plan.sampling(new SamplingInput(r.temperature(), r.topP(), r.topK(), null, null, null, null, r.seed(),
                    SamplingResolver.stopSequences(stops, "stop_sequences"), null, null, null, -1));
        }
        return new MessagesPlan(plan.build(), stops);
    }

    /** Client tools as chat tools; names and strict schemas are checked by the plan, in this API's names. */
    private static List<Tool> tools(List<ToolDefinition> defs) throws ApiException {
        if (defs == null) {
            return List.of();
        }
        if (defs.size() > PlanBuilder.MAX_TOOLS) {
            throw ApiException.invalid("at most " + PlanBuilder.MAX_TOOLS + " tools are allowed, got "
                    + defs.size(), "tools");
        }
        List<Tool> tools = new ArrayList<>(defs.size());
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
