package io.peregrine.server.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.TextNode;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.peregrine.api.chat.ChatMessage;
import io.peregrine.api.chat.FunctionDefinition;
import io.peregrine.api.chat.Tool;
import io.peregrine.api.responses.OutputItem;
import io.peregrine.api.responses.Response;
import io.peregrine.api.responses.ResponseCreateRequest;
import io.peregrine.api.responses.ResponseTool;
import io.peregrine.server.chat.ChatPlan;
import io.peregrine.server.chat.FieldNames;
import io.peregrine.server.chat.PlanBuilder;
import io.peregrine.server.chat.StructuredOutput;
import io.peregrine.server.chat.ThinkingResolver;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Quote;
import io.peregrine.server.prompt.MessagePath;
import io.peregrine.server.prompt.ThinkingMode;
import io.peregrine.server.prompt.ToolChoice;
import io.peregrine.server.sampling.SamplingInput;
import io.peregrine.server.serving.EndpointContext;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Validates a Responses request and plans it through the {@link PlanBuilder} every chat-shaped API shares: the
 * conversation (stored turns, instructions, input items) becomes chat messages, function tools chat tools, and the
 * shared checks name this API's fields ({@link #NAMES}), so both APIs validate, render, constrain and sample the
 * same way and every 400 names what a Responses client sent. What only this API has is checked here.
 *
 * <p>{@code reasoning.effort}: Kimi has one switch, so {@code none} turns thinking off and every other effort
 * (minimal, low, medium, high, xhigh, max) leaves it on; omitted means on, K2.5's default. Chat's
 * {@code reasoning_effort} rule decides it ({@link ThinkingResolver}), so both APIs take the same values.
 *
 * <p>Read and deliberately not used: {@code service_tier} (one tier here), {@code max_tool_calls} (it caps
 * built-in tool calls, and there are none), {@code reasoning.summary} (the reasoning comes back whole).
 */
public final class ResponsesRequestMapper {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    /**
     * include values that need nothing from this server: Kimi's reasoning is returned in the clear, so there is no
     * encrypted_content to add, and the others belong to built-in tools, which are never present here.
     */
    private static final Set<String> INCLUDES_NOOP = Set.of("reasoning.encrypted_content",
            "file_search_call.results", "web_search_call.results", "web_search_call.action.sources",
            "code_interpreter_call.outputs", "computer_call_output.output.image_url", "message.input_image.image_url");

    /**
     * A limit on the whole conversation names input; an error about one message or part names the item it came
     * from ({@code input[j]}, {@code input[j].content[k]}), by the paths {@link InputItems} gives each message.
     */
    static final FieldNames NAMES = new FieldNames("input", i -> "tools[" + i + "].name",
            i -> "tools[" + i + "].parameters");

    private final PlanBuilder plans;
    private final InputItems inputItems;
    private final ResponseStore store;

    public ResponsesRequestMapper(PlanBuilder plans, ObjectMapper json, ResponseStore store) {
        this.plans = plans;
        this.inputItems = new InputItems(json, itemId -> {
            OutputItem item = store.item(itemId);
            return item == null ? null : json.valueToTree(item);
        });
        this.store = store;
    }

    /** @param servedNames names the client may send; the first is the default when {@code model} is absent */
    public ResponsesPlan map(ResponseCreateRequest r, List<String> servedNames) throws ApiException {
        rejectUnsupported(r);
        Integer maxOutput = r.maxOutputTokens();
        if (maxOutput != null && maxOutput < 1) {
            throw ApiException.invalid("max_output_tokens must be at least 1, got " + maxOutput, "max_output_tokens");
        }
        List<JsonNode> prior = List.of();
        if (r.previousResponseId() != null) {
            ResponseStore.Stored previous = store.get(r.previousResponseId());
            if (previous == null) {
                throw new ApiException(HttpResponseStatus.BAD_REQUEST,
                        "invalid_request_error", "Previous response with id '" + Quote.clip(r.previousResponseId())
                        + "' not found (" + store.retention() + ")",
                        "previous_response_id", "previous_response_not_found", 0);
            }
            prior = new ArrayList<>(previous.items());
            prior.addAll(inputItems.asItems(previous.response().output()));
        }
        List<JsonNode> items = new ArrayList<>(prior);
        items.addAll(inputItems.items(r.input()));
        List<ChatMessage> messages = new ArrayList<>();
        List<MessagePath> paths = new ArrayList<>();
        if (r.instructions() != null && !r.instructions().isEmpty()) {
            messages.add(new ChatMessage("system", TextNode.valueOf(r.instructions()), null, null, null, null, null,
                    null));
            paths.add(MessagePath.of("instructions"));
        }
        InputItems.Messages converted = inputItems.toMessages(items, prior.size());
        messages.addAll(converted.messages());
        paths.addAll(converted.paths());
        if (messages.isEmpty()) {
            throw ApiException.invalid("'input' has no message to answer", "input");
        }

        List<Tool> tools = tools(r.tools());
        PlanBuilder.Draft draft = plans.begin(r.model(), servedNames, NAMES)
                .conversation(messages, paths, r.chatTemplateKwargs())
                .tools(tools);
        draft.toolChoice(toolChoice(r.toolChoice(), draft.tools()),
                r.parallelToolCalls() == null || r.parallelToolCalls());
        String effort = r.reasoning() == null ? null : r.reasoning().effort();
        ThinkingMode thinking = ThinkingResolver.resolve(r.thinking(), r.chatTemplateKwargs(), effort,
                "reasoning.effort");
        ChatPlan plan = draft.thinking(thinking, null)
                .sampling(new SamplingInput(r.temperature(), r.topP(), r.topK(), r.minP(), r.presencePenalty(),
                        r.frequencyPenalty(), r.repetitionPenalty(), r.seed(), null, null, r.ignoreEos(), null, -1))
                .maxTokens(maxOutput, "max_output_tokens")
                .streaming(Boolean.TRUE.equals(r.stream()), false, -1)
                .content(StructuredOutput.flatContent(r.text() == null ? null : r.text().format(), "text.format"))
                .build();

        boolean storeIt = r.store() == null || r.store();
        String id = EndpointContext.newId("resp_");
        JsonNode echoedChoice = r.toolChoice() == null || r.toolChoice().isNull()
                ? TextNode.valueOf(tools == null || tools.isEmpty() ? "none" : "auto") : r.toolChoice();
        ResponseCreateRequest.TextConfig text = r.text() != null ? r.text()
                : new ResponseCreateRequest.TextConfig(NODES.objectNode().put("type", "text"), null);
        Response response = new Response(id, "response", System.currentTimeMillis() / 1000, "in_progress", null, null,
                r.instructions(), maxOutput, plan.model(), List.of(), plan.output().parallelToolCalls(),
                r.previousResponseId(), r.reasoning(), storeIt, r.temperature(), text, echoedChoice,
                r.tools() == null ? List.of() : r.tools(), r.topP(), "disabled", null, r.user(), metadata(r.metadata()));
        return new ResponsesPlan(plan, response, items, storeIt);
    }

    /** Fields of the Responses API this server recognises but does not implement: a 400 naming each, never a guess. */
    private static void rejectUnsupported(ResponseCreateRequest r) throws ApiException {
        if (Boolean.TRUE.equals(r.background())) {
            throw ApiException.unsupported("background responses are not supported", "background");
        }
        if (r.conversation() != null && !r.conversation().isNull()) {
            throw ApiException.unsupported("the Conversations API is not supported; send the history in 'input' or "
                    + "use previous_response_id", "conversation");
        }
        if (r.prompt() != null && !r.prompt().isNull()) {
            throw ApiException.unsupported("prompt templates ('prompt') are not supported", "prompt");
        }
        if (r.truncation() != null && !r.truncation().equals("disabled")) {
            if (r.truncation().equals("auto")) {
                throw ApiException.unsupported("truncation 'auto' is not supported; shorten the input", "truncation");
            }
            throw ApiException.invalid("truncation must be 'auto' or 'disabled'", "truncation");
        }
        if (r.topLogprobs() != null && r.topLogprobs() != 0) {
            throw ApiException.unsupported("top_logprobs is not supported on /v1/responses", "top_logprobs");
        }
        if (r.include() != null) {
            for (String inc : r.include()) {
                if ("message.output_text.logprobs".equals(inc)) {
                    throw ApiException.unsupported("include 'message.output_text.logprobs' is not supported", "include");
                }
                if (inc == null || !INCLUDES_NOOP.contains(inc)) {
                    throw ApiException.invalid("include has an unknown value '" + Quote.clip(String.valueOf(inc))
                            + "'", "include");
                }
            }
        }
        if (r.text() != null) {
            String verbosity = r.text().verbosity();
            if (verbosity != null && !verbosity.equals("medium")) {
                throw ApiException.unsupported("text.verbosity '" + Quote.clip(verbosity) + "' is not supported "
                        + "(only medium)", "text.verbosity");
            }
        }
        if (r.streamOptions() != null && !r.streamOptions().isNull() && !Boolean.TRUE.equals(r.stream())) {
            throw ApiException.invalid("stream_options is only allowed when stream is true", "stream_options");
        }
    }

    /**
     * Function tools as chat tools; built-in tools (web_search, file_search, ...) are a 400 naming the type. Names
     * and parameters are checked by the plan, in this API's names.
     */
    private static List<Tool> tools(List<ResponseTool> tools) throws ApiException {
        if (tools == null) {
            return null;
        }
        List<Tool> out = new ArrayList<>(tools.size());
        for (int i = 0; i < tools.size(); i++) {
            ResponseTool t = tools.get(i);
            String at = "tools[" + i + "]";
            if (t == null || t.type() == null) {
                throw ApiException.invalid(at + ".type is required", at + ".type");
            }
            if (!t.type().equals("function")) {
                throw ApiException.unsupported("tools of type '" + Quote.clip(t.type()) + "' are not supported; "
                        + "only function tools are", at + ".type");
            }
            out.add(new Tool("function", new FunctionDefinition(t.name(), t.description(), t.parameters(), t.strict())));
        }
        return out;
    }

    /** none, auto, required or a named function; hosted-tool and allowed_tools choices are a 400. */
    private static ToolChoice toolChoice(JsonNode choice, List<Tool> tools) throws ApiException {
        if (choice == null || choice.isNull()) {
            return tools.isEmpty() ? ToolChoice.NONE : ToolChoice.AUTO;
        }
        if (choice.isTextual() && Set.of("none", "auto", "required").contains(choice.textValue())) {
            ToolChoice c = switch (choice.textValue()) {
                case "none" -> ToolChoice.NONE;
                case "auto" -> ToolChoice.AUTO;
                default -> ToolChoice.REQUIRED;
            };
            if (tools.isEmpty() && c instanceof ToolChoice.Required) {
                throw ApiException.invalid("tool_choice '" + choice + "' requires 'tools'", "tool_choice");
            }
            return c;
        }
        if (choice.isObject() && "function".equals(choice.path("type").asText())) {
            if (!choice.path("name").isTextual()) {
                throw ApiException.invalid("tool_choice.name is required for type 'function'", "tool_choice.name");
            }
            String name = choice.path("name").textValue();
            if (tools.stream().noneMatch(t -> t.function().name().equals(name))) {
                throw ApiException.invalid("tool_choice names function '" + Quote.clip(name) + "', which is not in "
                        + "'tools'", "tool_choice");
            }
            return new ToolChoice.Named(name);
        }
        if (choice.isObject() && choice.hasNonNull("type")) {
            throw ApiException.unsupported("tool_choice of type '" + Quote.clip(choice.path("type").asText())
                    + "' is not supported (none, auto, required or {\"type\": \"function\", \"name\": ...})",
                    "tool_choice");
        }
        throw ApiException.invalid("tool_choice must be 'none', 'auto', 'required' or "
                + "{\"type\": \"function\", \"name\": ...}", "tool_choice");
    }

    /** metadata: at most 16 string values (OpenAI's limits), echoed back; {} when absent. */
    private static JsonNode metadata(JsonNode metadata) throws ApiException {
        if (metadata == null || metadata.isNull()) {
            return NODES.objectNode();
        }
        if (!metadata.isObject() || metadata.size() > 16) {
            throw ApiException.invalid("metadata must be an object of at most 16 string values", "metadata");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = metadata.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().length() > 64 || !e.getValue().isTextual() || e.getValue().textValue().length() > 512) {
                throw ApiException.invalid("metadata keys are strings of at most 64 characters and values strings of "
                        + "at most 512", "metadata." + Quote.clip(e.getKey()));
            }
        }
        return metadata;
    }
}
