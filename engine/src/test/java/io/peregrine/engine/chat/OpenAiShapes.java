package io.peregrine.engine.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Test fixtures' reader: the golden template cases are OpenAI-shaped chat JSON. The server maps its typed api
 * records straight to the message model instead (server {@code EngineMessages}).
 *
 * <p>Maps OpenAI-shaped chat JSON, given as plain trees (what Jackson's {@code convertValue(node, Object.class)}
 * gives: maps, lists, strings, numbers, booleans, null), to the message model. Unknown fields are ignored; a
 * structurally wrong message fails with the path of the offending field.
 */
public final class OpenAiShapes {
    private OpenAiShapes() {}

    public static List<ChatMessage> messages(List<?> raw) {
        List<ChatMessage> out = new ArrayList<>(raw.size());
        for (int i = 0; i < raw.size(); i++) {
            out.add(message(raw.get(i), "messages[" + i + "]"));
        }
        return out;
    }

    public static ChatMessage message(Object raw, String path) {
        Map<?, ?> m = map(raw, path);
        String role = string(m.get("role"), path + ".role");
        if (role == null || role.isEmpty()) {
            throw new IllegalArgumentException(path + ".role is missing");
        }
        List<ToolCall> calls = new ArrayList<>();
        Object tc = m.get("tool_calls");
        if (tc != null) {
            if (!(tc instanceof List<?> list)) {
                throw new IllegalArgumentException(path + ".tool_calls must be a list");
            }
            for (int i = 0; i < list.size(); i++) {
                calls.add(toolCall(list.get(i), path + ".tool_calls[" + i + "]"));
            }
        }
        return new ChatMessage(role, content(m.get("content"), path + ".content"),
                string(m.get("name"), path + ".name"), string(m.get("reasoning_content"), path + ".reasoning_content"),
                string(m.get("reasoning"), path + ".reasoning"), calls, string(m.get("tool_call_id"),
                path + ".tool_call_id"));
    }

    static List<ContentPart> content(Object c, String path) {
        if (c == null) {
            return null;
        }
        if (c instanceof String s) {
            return List.of(new ContentPart.Text(s));
        }
        if (!(c instanceof List<?> parts)) {
            throw new IllegalArgumentException(path + " must be a string, a list of parts or null");
        }
        List<ContentPart> out = new ArrayList<>(parts.size());
        for (int i = 0; i < parts.size(); i++) {
            String p = path + "[" + i + "]";
            Map<?, ?> part = map(parts.get(i), p);
            String type = string(part.get("type"), p + ".type");
            type = type == null ? "" : type;
            out.add(switch (type) {
                case "text" -> new ContentPart.Text(nonNull(string(part.get("text"), p + ".text")));
                case "image_url", "image" -> new ContentPart.Image(url(part.get(type)));
                case "video_url", "video" -> new ContentPart.Video(url(part.get(type)));
                default -> new ContentPart.Other(type, string(part.get("text"), p + ".text"));
            });
        }
        return out;
    }

    private static String url(Object v) {
        if (v instanceof Map<?, ?> m && m.get("url") instanceof String s) {
            return s;
        }
        return v instanceof String s ? s : null;
    }

    static ToolCall toolCall(Object raw, String path) {
        Map<?, ?> m = map(raw, path);
        Map<?, ?> fn = map(m.get("function"), path + ".function");
        String name = string(fn.get("name"), path + ".function.name");
        if (name == null) {
            throw new IllegalArgumentException(path + ".function.name is missing");
        }
        Object args = fn.get("arguments");
        ToolArguments a = args instanceof String s ? new ToolArguments.Text(s)
                : args == null ? new ToolArguments.Text("{}") : new ToolArguments.Value(args);
        return new ToolCall(string(m.get("id"), path + ".id"), name, a);
    }

    public static List<Tool> tools(List<?> raw) {
        List<Tool> out = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            String path = "tools[" + i + "]";
            Map<?, ?> t = map(raw.get(i), path);
            String type = string(t.get("type"), path + ".type");
            Map<?, ?> fn = t.get("function") == null ? Map.of() : map(t.get("function"), path + ".function");
            out.add(new Tool(type == null ? "function" : type, string(fn.get("name"), path + ".function.name"),
                    string(fn.get("description"), path + ".function.description"), fn.get("parameters")));
        }
        return out;
    }

    private static Map<?, ?> map(Object v, String path) {
        if (v instanceof Map<?, ?> m) {
            return m;
        }
        throw new IllegalArgumentException(path + " must be an object");
    }

    private static String string(Object v, String path) {
        if (v == null || v instanceof String) {
            return (String) v;
        }
        throw new IllegalArgumentException(path + " must be a string");
    }

    private static String nonNull(String s) {
        return s == null ? "" : s;
    }
}
