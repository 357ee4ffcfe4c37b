package io.peregrine.server.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.api.json.Json;
import io.peregrine.engine.chat.ChatMessage;
import io.peregrine.engine.chat.ContentPart;
import io.peregrine.engine.chat.Tool;
import io.peregrine.engine.chat.ToolArguments;
import io.peregrine.engine.chat.ToolCall;
import io.peregrine.server.media.MediaMessages;
import io.peregrine.server.prompt.ChatInput;
import io.peregrine.server.prompt.MessagePath;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The api's chat records as the engine's message model, field by field: content parts become {@link ContentPart}s,
 * tool calls {@link ToolCall}s. Only the JSON the client sent as JSON (tool parameters, object arguments) becomes a
 * plain tree, which is what the template renders. A structurally wrong message (a part that is not an object, a
 * text part without a string) fails with the path of the offending field.
 */
public final class EngineMessages {
    private static final ObjectMapper JSON = Json.newMapper();

    private EngineMessages() {}

    /**
     * @param media what the template renders in place of each media part, called for each in conversation order;
     *              null: media parts map as they are (their URLs)
     */
    public static List<ChatMessage> messages(ChatInput input, Function<JsonNode, List<ContentPart>> media) {
        return messages(input.messages(), input.paths(), media);
    }

    /** Messages in chat's names ({@code messages[i]}). */
    public static List<ChatMessage> messages(List<io.peregrine.api.chat.ChatMessage> messages,
                                             Function<JsonNode, List<ContentPart>> media) {
        return messages(messages, MessagePath.chat(messages.size()), media);
    }

    private static List<ChatMessage> messages(List<io.peregrine.api.chat.ChatMessage> messages,
                                              List<MessagePath> paths, Function<JsonNode, List<ContentPart>> media) {
        List<ChatMessage> out = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            out.add(message(messages.get(i), paths.get(i), media));
        }
        return out;
    }

    public static ChatMessage message(io.peregrine.api.chat.ChatMessage m, MessagePath path) {
        return message(m, path, null);
    }

    private static ChatMessage message(io.peregrine.api.chat.ChatMessage m, MessagePath at,
                                       Function<JsonNode, List<ContentPart>> media) {
        String path = at.message();
        if (m == null) {
            throw new IllegalArgumentException(path + " must be an object");
        }
        if (m.role() == null || m.role().isEmpty()) {
            throw new IllegalArgumentException(path + ".role is missing");
        }
        List<ToolCall> calls = new ArrayList<>();
        if (m.toolCalls() != null) {
            for (int i = 0; i < m.toolCalls().size(); i++) {
                calls.add(toolCall(m.toolCalls().get(i), path + ".tool_calls[" + i + "]"));
            }
        }
        return new ChatMessage(m.role(), content(m.content(), at, media), m.name(),
                m.reasoningContent(), m.reasoning(), calls, m.toolCallId());
    }

    private static List<ContentPart> content(JsonNode c, MessagePath at, Function<JsonNode, List<ContentPart>> media) {
        if (c == null || c.isNull()) {
            return null;
        }
        if (c.isTextual()) {
            return List.of(new ContentPart.Text(c.textValue()));
        }
        if (!c.isArray()) {
            throw new IllegalArgumentException(at.field("content") + " must be a string, a list of parts or null");
        }
        List<ContentPart> out = new ArrayList<>(c.size());
        for (int i = 0; i < c.size(); i++) {
            String p = at.part(i);
            JsonNode part = c.get(i);
            if (!part.isObject()) {
                throw new IllegalArgumentException(p + " must be an object");
            }
            String type = string(part.get("type"), p + ".type");
            type = type == null ? "" : type;
            if (media != null && MediaMessages.isMediaType(type)) {
                out.addAll(media.apply(part));
                continue;
            }
            out.add(switch (type) {
                case "text" -> {
                    String text = string(part.get("text"), p + ".text");
                    yield new ContentPart.Text(text == null ? "" : text);
                }
                case "image_url", "image" -> new ContentPart.Image(url(part.get(type)));
                case "video_url", "video" -> new ContentPart.Video(url(part.get(type)));
                default -> new ContentPart.Other(type, string(part.get("text"), p + ".text"));
            });
        }
        return out;
    }

    /** {@code {"url": "..."}} or the URL itself. */
    private static String url(JsonNode v) {
        if (v != null && v.isObject() && v.path("url").isTextual()) {
            return v.get("url").textValue();
        }
        return v != null && v.isTextual() ? v.textValue() : null;
    }

    private static ToolCall toolCall(io.peregrine.api.chat.ToolCall c, String path) {
        if (c == null) {
            throw new IllegalArgumentException(path + " must be an object");
        }
        if (c.function() == null) {
            throw new IllegalArgumentException(path + ".function must be an object");
        }
        if (c.function().name() == null) {
            throw new IllegalArgumentException(path + ".function.name is missing");
        }
        JsonNode args = c.function().arguments();
        ToolArguments a = args == null || args.isNull() ? new ToolArguments.Text("{}")
                : args.isTextual() ? new ToolArguments.Text(args.textValue()) : new ToolArguments.Value(plain(args));
        return new ToolCall(c.id(), c.function().name(), a);
    }

    /** Declared tools; a tool without a function declares nothing but its type, as the template expects. */
    public static List<Tool> tools(List<io.peregrine.api.chat.Tool> tools) {
        List<Tool> out = new ArrayList<>(tools.size());
        for (io.peregrine.api.chat.Tool t : tools) {
            var fn = t.function();
            out.add(new Tool(t.type() == null ? "function" : t.type(), fn == null ? null : fn.name(),
                    fn == null ? null : fn.description(), fn == null ? null : plain(fn.parameters())));
        }
        return out;
    }

    private static String string(JsonNode v, String path) {
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException(path + " must be a string");
        }
        return v.textValue();
    }

    /** JSON the client sent as JSON, as the plain tree (maps, lists, strings, numbers) the template renders. */
    private static Object plain(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        try {
            return JSON.treeToValue(node, Object.class);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not plain JSON: " + e.getOriginalMessage(), e);
        }
    }
}
