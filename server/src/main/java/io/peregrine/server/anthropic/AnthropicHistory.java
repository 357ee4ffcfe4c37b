package io.peregrine.server.anthropic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.TextNode;
import io.peregrine.api.anthropic.InputMessage;
import io.peregrine.api.chat.ChatMessage;
import io.peregrine.api.chat.FunctionCall;
import io.peregrine.api.chat.ToolCall;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Quote;
import io.peregrine.server.prompt.MessagePath;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * An Anthropic conversation as the chat pipeline's messages: {@code system} becomes a system message; a user
 * turn's {@code tool_result} blocks become tool messages (in order, before the turn's own text and images); an
 * assistant turn's {@code thinking} blocks become its reasoning (what the Kimi template renders as that turn's
 * think block), its {@code tool_use} blocks its tool calls with the ids the client sent back. Thinking blocks are
 * accepted whatever their {@code signature} (empty or missing included: nothing is verified) and
 * {@code redacted_thinking} blocks, which carry no readable text, are dropped.
 */
final class AnthropicHistory {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    /**
     * @param prefill the conversation ends with an assistant turn, which the reply continues (Anthropic's prefill;
     *                chat's partial mode)
     */
    record Conversation(List<ChatMessage> messages, List<MessagePath> paths, boolean prefill) {}

    private AnthropicHistory() {}

    static Conversation convert(JsonNode system, List<InputMessage> messages) throws ApiException {
        List<ChatMessage> out = new ArrayList<>();
        List<MessagePath> paths = new ArrayList<>();
        if (system != null && !system.isNull()) {
            JsonNode content = system(system);
            if (content != null) {
                out.add(message("system", content));
                paths.add(new MessagePath("system", content.isArray() ? blockPaths("system", content.size()) : null));
            }
        }
        if (messages == null || messages.isEmpty()) {
            throw ApiException.invalid("messages: at least one message is required", "messages");
        }
        Set<String> called = new HashSet<>();
        Set<String> answered = new HashSet<>();
        for (int i = 0; i < messages.size(); i++) {
            InputMessage m = messages.get(i);
            String at = "messages[" + i + "]";
            if (m == null) {
                throw ApiException.invalid(at + " must be an object", at);
            }
            if (!"user".equals(m.role()) && !"assistant".equals(m.role())) {
                throw ApiException.invalid(at + ".role must be 'user' or 'assistant', got "
                        + (m.role() == null ? "nothing" : "'" + m.role() + "'")
                        + " (the system prompt goes in the top-level 'system' field)", at + ".role");
            }
            if (i == 0 && !m.role().equals("user")) {
                throw ApiException.invalid(at + ".role must be 'user': a conversation starts with a user turn",
                        at + ".role");
            }
            JsonNode content = m.content();
            if (content == null || content.isNull() || !(content.isTextual() || content.isArray())) {
                throw ApiException.invalid(at + ".content must be a string or an array of content blocks",
                        at + ".content");
            }
            if (m.role().equals("user")) {
                user(content, at, called, answered, out, paths);
            } else {
                assistant(content, at, called, out);
                paths.add(MessagePath.of(at));
            }
        }
        boolean prefill = messages.getLast().role().equals("assistant");
        if (prefill && out.getLast().toolCalls() != null && !out.getLast().toolCalls().isEmpty()) {
            String at = "messages[" + (messages.size() - 1) + "]";
            throw ApiException.invalid(at + ": a final assistant turn is a prefill the reply continues; it cannot "
                    + "hold tool_use blocks", at + ".content");
        }
        return new Conversation(out, paths, prefill);
    }

    private static JsonNode system(JsonNode system) throws ApiException {
        if (system.isTextual()) {
            return system.textValue().isEmpty() ? null : system;
        }
        if (!system.isArray()) {
            throw ApiException.invalid("system must be a string or an array of text blocks", "system");
        }
        ArrayNode parts = NODES.arrayNode();
        for (int j = 0; j < system.size(); j++) {
            JsonNode b = system.get(j);
            String at = "system[" + j + "]";
            if (!"text".equals(b.path("type").asText()) || !b.path("text").isTextual()) {
                throw ApiException.invalid(at + " must be a text block ({\"type\": \"text\", \"text\": ...})", at);
            }
            parts.add(ContentParts.text(b.path("text").textValue()));
        }
        return parts.isEmpty() ? null : parts;
    }

    /** {@code at[0]}, {@code at[1]}, ...: the system prompt's text blocks. */
    private static List<String> blockPaths(String at, int n) {
        List<String> out = new ArrayList<>(n);
        for (int j = 0; j < n; j++) {
            out.add(at + "[" + j + "]");
        }
        return out;
    }

    /**
     * A user turn: its tool results, each a message named by its block, then one message of its other blocks,
     * each part named by the block it came from (a document's parts by the document).
     */
    private static void user(JsonNode content, String at, Set<String> called, Set<String> answered,
                             List<ChatMessage> out, List<MessagePath> paths)
            throws ApiException {
        if (content.isTextual()) {
            out.add(message("user", content));
            paths.add(MessagePath.of(at));
            return;
        }
        ArrayNode parts = NODES.arrayNode();
        List<String> partPaths = new ArrayList<>();
        for (int j = 0; j < content.size(); j++) {
            JsonNode b = content.get(j);
            String bat = at + ".content[" + j + "]";
            String type = b.path("type").asText("");
            switch (type) {
                case "text" -> parts.add(ContentParts.text(ContentParts.string(b, bat)));
                case "image" -> parts.add(ContentParts.image(b, bat));
                case "tool_result" -> {
                    out.add(toolResult(b, bat, called, answered));
                    paths.add(toolResultPath(b, bat));
                }
                case "document" -> ContentParts.document(b, bat, parts);
                case "tool_use", "thinking", "redacted_thinking" -> throw ApiException.invalid(bat + ": '" + type
                        + "' blocks belong to assistant turns, not user turns", bat + ".type");
                default -> throw ApiException.invalid(bat + ".type must be 'text', 'image', 'document' or "
                        + "'tool_result' in a user turn, got '" + type + "'", bat + ".type");
            }
            while (partPaths.size() < parts.size()) {
                partPaths.add(bat);
            }
        }
        if (!parts.isEmpty()) {
            out.add(message("user", parts));
            paths.add(new MessagePath(at, partPaths));
        }
    }

    private static void assistant(JsonNode content, String at, Set<String> called, List<ChatMessage> out)
            throws ApiException {
        if (content.isTextual()) {
            out.add(message("assistant", content));
            return;
        }
        StringBuilder text = new StringBuilder();
        StringBuilder reasoning = null;
        List<ToolCall> calls = new ArrayList<>();
        for (int j = 0; j < content.size(); j++) {
            JsonNode b = content.get(j);
            String bat = at + ".content[" + j + "]";
            String type = b.path("type").asText("");
            switch (type) {
                case "text" -> text.append(ContentParts.string(b, bat));
                case "thinking" -> {
                    if (!b.path("thinking").isTextual()) {
                        throw ApiException.invalid(bat + ".thinking must be a string", bat + ".thinking");
                    }
                    reasoning = reasoning == null ? new StringBuilder() : reasoning;
                    reasoning.append(b.path("thinking").textValue());
                }
                case "redacted_thinking" -> { } // encrypted by another provider: nothing the template could show
                case "tool_use" -> {
                    String id = b.path("id").isTextual() ? b.path("id").textValue() : null;
                    String name = b.path("name").isTextual() ? b.path("name").textValue() : null;
                    if (id == null || id.isEmpty()) {
                        throw ApiException.invalid(bat + ".id is required", bat + ".id");
                    }
                    if (name == null || name.isEmpty()) {
                        throw ApiException.invalid(bat + ".name is required", bat + ".name");
                    }
                    JsonNode input = b.get("input");
                    if (input == null || input.isNull()) {
                        input = NODES.objectNode();
                    } else if (!input.isObject()) {
                        throw ApiException.invalid(bat + ".input must be an object", bat + ".input");
                    }
                    if (!called.add(id)) {
                        // the template would render two calls one result could answer: which one is ambiguous
                        throw ApiException.invalid(bat + ".id '" + Quote.clip(id) + "' is used by an earlier tool_use "
                                + "block; tool_use ids must be unique", bat + ".id");
                    }
                    calls.add(new ToolCall(null, id, "function", new FunctionCall(name, input)));
                }
                case "tool_result", "image", "document" -> throw ApiException.invalid(bat + ": '" + type
                        + "' blocks belong to user turns, not assistant turns", bat + ".type");
                default -> throw ApiException.invalid(bat + ".type must be 'text', 'thinking', "
                        + "'redacted_thinking' or 'tool_use' in an assistant turn, got '" + type + "'", bat + ".type");
            }
        }
        JsonNode textNode = text.isEmpty() && !calls.isEmpty() ? null : TextNode.valueOf(text.toString());
        out.add(new ChatMessage("assistant", textNode, null, calls.isEmpty() ? null : calls, null,
                reasoning == null ? null : reasoning.toString(), null, null));
    }

    /**
     * A tool result as a tool message. {@code is_error} is not a field the template has, so the model is told in
     * the content itself ({@code "Error: ..."}), which is what the flag is for.
     */
    private static ChatMessage toolResult(JsonNode b, String at, Set<String> called, Set<String> answered)
            throws ApiException {
        JsonNode idNode = b.get("tool_use_id");
        if (idNode == null || !idNode.isTextual() || idNode.textValue().isEmpty()) {
            throw ApiException.invalid(at + ".tool_use_id is required", at + ".tool_use_id");
        }
        String id = idNode.textValue();
        if (!called.contains(id)) {
            throw ApiException.invalid(at + ".tool_use_id '" + Quote.clip(id) + "' does not match any tool_use block"
                    + " of an earlier assistant turn", at + ".tool_use_id");
        }
        if (!answered.add(id)) {
            throw ApiException.invalid(at + ".tool_use_id '" + Quote.clip(id) + "' was already answered by an earlier "
                    + "tool_result; each tool_use takes exactly one", at + ".tool_use_id");
        }
        JsonNode isError = b.get("is_error");
        if (isError != null && !isError.isNull() && !isError.isBoolean()) {
            throw ApiException.invalid(at + ".is_error must be a boolean", at + ".is_error");
        }
        boolean error = isError != null && isError.asBoolean(false);
        JsonNode content = b.get("content");
        JsonNode rendered;
        if (content == null || content.isNull()) {
            rendered = TextNode.valueOf(error ? "Error" : "");
        } else if (content.isTextual()) {
            rendered = TextNode.valueOf(error ? "Error: " + content.textValue() : content.textValue());
        } else if (content.isArray()) {
            ArrayNode parts = NODES.arrayNode();
            if (error) {
                parts.add(ContentParts.text("Error: "));
            }
            for (int k = 0; k < content.size(); k++) {
                JsonNode p = content.get(k);
                String pat = at + ".content[" + k + "]";
                switch (p.path("type").asText("")) {
                    case "text" -> parts.add(ContentParts.text(ContentParts.string(p, pat)));
                    case "image" -> parts.add(ContentParts.image(p, pat));
                    default -> throw ApiException.invalid(pat + ".type must be 'text' or 'image' in a tool_result",
                            pat + ".type");
                }
            }
            rendered = parts;
        } else {
            throw ApiException.invalid(at + ".content must be a string or an array of blocks", at + ".content");
        }
        return new ChatMessage("tool", rendered, null, null, id, null, null, null);
    }

    /** A tool result's message: its parts (after an error's "Error: " prefix) named by its own content blocks. */
    private static MessagePath toolResultPath(JsonNode b, String at) {
        JsonNode content = b.get("content");
        if (content == null || !content.isArray()) {
            return MessagePath.of(at);
        }
        List<String> parts = new ArrayList<>();
        if (b.path("is_error").asBoolean(false)) {
            parts.add(at + ".is_error");
        }
        parts.addAll(blockPaths(at + ".content", content.size()));
        return new MessagePath(at, parts);
    }

    private static ChatMessage message(String role, JsonNode content) {
        return new ChatMessage(role, content, null, null, null, null, null, null);
    }
}
