package io.peregrine.server.responses;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.peregrine.api.chat.ChatMessage;
import io.peregrine.api.chat.FunctionCall;
import io.peregrine.api.chat.ToolCall;
import io.peregrine.api.responses.ResponseInputItem;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.JsonErrors;
import io.peregrine.server.http.Quote;
import io.peregrine.server.prompt.MessagePath;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Responses {@code input} items → chat messages, the shape the one chat pipeline renders. Consecutive output
 * items of the model (reasoning, an assistant message, function calls) are one assistant turn, so a reasoning item
 * becomes that turn's {@code reasoning_content} and function calls its {@code tool_calls}, exactly as the chat
 * API would carry the same history; a {@code function_call_output} becomes a tool message.
 */
final class InputItems {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final Set<String> ROLES = Set.of("user", "system", "developer", "assistant");

    /**
     * The chat messages and where each came from in the request: {@code input[i]} (for an assistant turn merged
     * from several items, the first of them) or {@code previous_response_id} for a stored turn.
     */
    record Messages(List<ChatMessage> messages, List<MessagePath> paths) {}

    /** Finds an earlier output item by its id; null when it is not (or no longer) stored. */
    @FunctionalInterface
    interface ItemLookup {
        JsonNode find(String itemId);
    }

    private final ObjectMapper json;
    private final ItemLookup stored;

    InputItems(ObjectMapper json, ItemLookup stored) {
        this.json = json;
        this.stored = stored;
    }

    /** {@code input} as a list of item trees: a string is one user message. */
    List<JsonNode> items(JsonNode input) throws ApiException {
        if (input == null || input.isNull()) {
            throw ApiException.invalid("'input' is required: a string or an array of input items", "input");
        }
        if (input.isTextual()) {
            ObjectNode m = NODES.objectNode().put("type", "message").put("role", "user");
            m.set("content", input);
            return List.of(m);
        }
        if (!input.isArray() || input.isEmpty()) {
            throw ApiException.invalid("'input' must be a string or a non-empty array of input items", "input");
        }
        List<JsonNode> out = new ArrayList<>(input.size());
        input.forEach(out::add);
        return out;
    }

    /** The assistant turn of earlier output, as input items (what {@code previous_response_id} continues from). */
    List<JsonNode> asItems(List<?> outputItems) {
        List<JsonNode> out = new ArrayList<>(outputItems.size());
        for (Object o : outputItems) {
            out.add(json.valueToTree(o));
        }
        return out;
    }

    /**
     * @param items    stored items (already validated) followed by this request's input items
     * @param firstNew the index of the first item of this request; errors name it {@code input[i - firstNew]}
     */
    Messages toMessages(List<JsonNode> items, int firstNew) throws ApiException {
        Turn turn = new Turn();
        Messages out = new Messages(new ArrayList<>(), new ArrayList<>());
        Set<String> calls = new HashSet<>();
        for (int i = 0; i < items.size(); i++) {
            String at = i >= firstNew ? "input[" + (i - firstNew) + "]" : "previous_response_id";
            JsonNode node = items.get(i);
            if (node == null || !node.isObject()) {
                throw ApiException.invalid(at + " must be an object", at);
            }
            if ("item_reference".equals(node.path("type").asText(null))) {
                node = resolve(node, at);
            }
            ResponseInputItem item = read(node, at);
            String type = item.type() != null ? item.type() : item.role() != null ? "message" : null;
            if (type == null) {
                throw ApiException.invalid(at + ".type is required (message, function_call, function_call_output "
                        + "or reasoning)", at + ".type");
            }
            switch (type) {
                case "message" -> message(item, at, turn, out);
                case "reasoning" -> {
                    if (turn.hasMessage || !turn.calls.isEmpty()) {
                        turn.flush(out);
                    }
                    turn.from(at);
                    turn.reasoning.append(ItemContent.reasoningText(item, at));
                }
                case "function_call" -> {
                    String callId = required(item.callId(), at + ".call_id");
                    String name = required(item.name(), at + ".name");
                    JsonNode args = item.arguments();
                    if (args == null || !args.isTextual()) {
                        throw ApiException.invalid(at + ".arguments must be a string of JSON", at + ".arguments");
                    }
                    if (!calls.add(callId)) {
                        throw ApiException.invalid(at + ".call_id '" + Quote.clip(callId) + "' is used by an earlier "
                                + "function_call", at + ".call_id");
                    }
                    turn.from(at);
                    turn.calls.add(new ToolCall(null, callId, "function", new FunctionCall(name, args.textValue())));
                }
                case "function_call_output" -> {
                    String callId = required(item.callId(), at + ".call_id");
                    if (!calls.contains(callId)) {
                        throw ApiException.invalid(at + ".call_id '" + Quote.clip(callId) + "' does not match any "
                                + "earlier function_call", at + ".call_id");
                    }
                    turn.flush(out);
                    String output = ItemContent.toolOutput(item.output(), at + ".output");
                    add(out, new ChatMessage("tool", TextNode.valueOf(output), null, null, callId, null, null, null),
                            at);
                }
                default -> throw ApiException.unsupported("input items of type '" + Quote.clip(type) + "' are not "
                        + "supported (message, function_call, function_call_output and reasoning are)", at + ".type");
            }
        }
        turn.flush(out);
        return out;
    }

    /**
     * An {@code item_reference} (what the AI SDK, and so opencode, sends for earlier output when responses are
     * stored) as the stored item itself.
     */
    private JsonNode resolve(JsonNode reference, String at) throws ApiException {
        JsonNode id = reference.get("id");
        if (id == null || !id.isTextual()) {
            throw ApiException.invalid(at + ".id is required for an item_reference", at + ".id");
        }
        JsonNode item = stored.find(id.textValue());
        if (item == null) {
            throw ApiException.invalid(at + " references item '" + Quote.clip(id.textValue()) + "', which is not the "
                    + "output of a response stored here (input items are not stored; send them again)", at + ".id");
        }
        return item;
    }

    private ResponseInputItem read(JsonNode node, String at) throws ApiException {
        try {
            return json.treeToValue(node, ResponseInputItem.class);
        } catch (JsonMappingException e) {
            throw JsonErrors.mismatch(e, at);
        } catch (JsonProcessingException e) {
            throw ApiException.invalid("Invalid " + at, at);
        }
    }

    private static void add(Messages out, ChatMessage m, String at) {
        out.messages().add(m);
        out.paths().add(MessagePath.of(at));
    }

    private void message(ResponseInputItem item, String at, Turn turn, Messages out) throws ApiException {
        String role = item.role();
        if (role == null || !ROLES.contains(role)) {
            throw ApiException.invalid(at + ".role must be one of assistant, developer, system, user, got "
                    + (role == null ? "nothing" : "'" + Quote.clip(role) + "'"), at + ".role");
        }
        JsonNode content = item.content();
        if (content == null || content.isNull()) {
            throw ApiException.invalid(at + ".content is required", at + ".content");
        }
        if (role.equals("assistant")) {
            if (!turn.calls.isEmpty()) {
                turn.flush(out); // text after the calls is the next turn
            }
            turn.from(at);
            turn.content.append(ItemContent.assistantText(content, at + ".content"));
            turn.hasMessage = true;
            return;
        }
        turn.flush(out);
        JsonNode parts = ItemContent.chatContent(content, at + ".content");
        out.messages().add(new ChatMessage(role, parts, null, null, null, null, null, null));
        // chatContent keeps each part at its index, so part k's path is at.content[k]; a stored turn's parts are
        // named by the continuation as a whole, as the turn itself is
        out.paths().add(at.startsWith("input") || !parts.isArray() ? MessagePath.of(at)
                : new MessagePath(at, Collections.nCopies(parts.size(), at)));
    }

    private static String required(String value, String param) throws ApiException {
        if (value == null || value.isEmpty()) {
            throw ApiException.invalid(param + " is required", param);
        }
        return value;
    }

    /** The assistant turn being gathered from consecutive output items. */
    private static final class Turn {
        final StringBuilder reasoning = new StringBuilder();
        final StringBuilder content = new StringBuilder();
        final List<ToolCall> calls = new ArrayList<>();
        boolean hasMessage;
        /** The item that opened the turn. */
        String at;

        void from(String at) {
            if (this.at == null) {
                this.at = at;
            }
        }

        void flush(Messages out) {
            if (reasoning.isEmpty() && !hasMessage && calls.isEmpty()) {
                return;
            }
            JsonNode content = hasMessage || calls.isEmpty() ? TextNode.valueOf(this.content.toString()) : null;
            add(out, new ChatMessage("assistant", content, null, calls.isEmpty() ? null : List.copyOf(calls), null,
                    reasoning.isEmpty() ? null : reasoning.toString(), null, null), at);
            at = null;
            reasoning.setLength(0);
            this.content.setLength(0);
            calls.clear();
            hasMessage = false;
        }
    }
}
