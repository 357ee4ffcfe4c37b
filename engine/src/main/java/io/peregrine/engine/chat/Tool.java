package io.peregrine.engine.chat;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A tool declaration. {@code parameters} is the JSON Schema as a plain tree (maps, lists, strings, numbers,
 * booleans, null). Non-{@code function} types (e.g. {@code builtin_function}) are kept but not declared in
 * TypeScript, as in the reference.
 */
public record Tool(String type, String name, String description, Object parameters) {
    public Tool {
        Objects.requireNonNull(type, "tool type");
    }

    public static Tool function(String name, String description, Object parameters) {
        return new Tool("function", name, description, parameters);
    }

    /** The OpenAI dict shape the reference code and the template's JSON fallback see. */
    Map<String, Object> asDict() {
        Map<String, Object> fn = new LinkedHashMap<>();
        if (name != null) fn.put("name", name);
        if (description != null) fn.put("description", description);
        if (parameters != null) fn.put("parameters", parameters);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("type", type);
        out.put("function", fn);
        return out;
    }
}
