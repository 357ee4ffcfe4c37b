package io.peregrine.server.chat;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.api.chat.Tool;
import io.peregrine.engine.constrain.json.JsonGrammar;
import io.peregrine.engine.constrain.json.SchemaException;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Quote;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * {@code response_format} and strict tools, read into the grammars the output constraint follows. Shared by every
 * endpoint that maps onto the chat pipeline, so a schema gets the same answer everywhere.
 *
 * <p>{@code json_schema} is strict unless {@code "strict": false} (Moonshot's default; OpenAI's is false): a
 * keyword the grammar cannot enforce is then a 400 naming it. Not strict is best effort: the same grammar with
 * those keywords dropped. A tool is strict only with {@code "strict": true}; other tools' arguments are any JSON
 * object. A malformed schema is a 400 either way.
 */
public final class StructuredOutput {
    private StructuredOutput() {}

    /**
     * A {@code response_format} object ({@code {"type": "text" | "json_object" | "json_schema", ...}}, the schema's
     * fields under {@code json_schema}); null for free text.
     */
    public static JsonGrammar content(JsonNode format) throws ApiException {
        return content(format, "response_format", true);
    }

    /**
     * The same for an API that writes json_schema's fields beside {@code type} (the Responses API's
     * {@code text.format}).
     *
     * @param param the client's name for the format object
     */
    public static JsonGrammar flatContent(JsonNode format, String param) throws ApiException {
        return content(format, param, false);
    }

    private static JsonGrammar content(JsonNode format, String param, boolean nested) throws ApiException {
        if (format == null || format.isNull()) {
            return null;
        }
        if (!format.isObject()) {
            throw ApiException.invalid(param + " must be an object", param);
        }
        String type = format.path("type").asText("");
        return switch (type) {
            case "text" -> null;
            case "json_object" -> JsonGrammar.anyObject();
            case "json_schema" -> {
                if (!nested) {
                    yield jsonSchema(format, param);
                }
                JsonNode js = format.get("json_schema");
                if (js == null || !js.isObject()) {
                    throw ApiException.invalid(param + ".json_schema must be an object with the schema",
                            param + ".json_schema");
                }
                yield jsonSchema(js, param + ".json_schema");
            }
            default -> throw ApiException.invalid(param + ".type must be 'text', 'json_object' or 'json_schema'"
                    + (type.isEmpty() ? "" : ", got '" + Quote.clip(type) + "'"), param + ".type");
        };
    }

    /** {@code {"name", "schema", "strict"}}; strict unless {@code "strict": false}. */
    private static JsonGrammar jsonSchema(JsonNode js, String param) throws ApiException {
        JsonNode name = js.get("name");
        if (name != null && !name.isNull() && !(name.isTextual() && name.textValue().matches("[A-Za-z0-9_-]{1,64}"))) {
            throw ApiException.invalid(param + ".name must be 1-64 letters, digits, '_' or '-'", param + ".name");
        }
        JsonNode strict = js.get("strict");
        if (strict != null && !strict.isNull() && !strict.isBoolean()) {
            throw ApiException.invalid(param + ".strict must be a boolean", param + ".strict");
        }
        JsonNode schema = js.get("schema");
        if (schema == null || schema.isNull()) {
            return JsonGrammar.anyObject();
        }
        return compile(schema, strict == null || strict.isNull() || strict.booleanValue(), param + ".schema");
    }

    /** The argument grammars of the tools declared {@code "strict": true}, by function name, in chat's names. */
    public static Map<String, JsonGrammar> arguments(List<Tool> tools) throws ApiException {
        return arguments(tools, FieldNames.CHAT.toolSchema());
    }

    /**
     * The argument grammars of the tools declared {@code "strict": true}, by function name.
     *
     * @param schemaAt where tool i's schema sits in the client's request, for error messages
     */
    public static Map<String, JsonGrammar> arguments(List<Tool> tools, IntFunction<String> schemaAt)
            throws ApiException {
        Map<String, JsonGrammar> out = new HashMap<>();
        for (int i = 0; i < tools.size(); i++) {
            Tool t = tools.get(i);
            if (t.function() == null || !Boolean.TRUE.equals(t.function().strict())) {
                continue;
            }
            JsonNode params = t.function().parameters();
            if (params == null || params.isNull()) {
                continue; // no parameters: the constraint forces {}
            }
            String param = schemaAt.apply(i);
            try {
                out.put(t.function().name(), JsonGrammar.compileObject(params, true));
            } catch (SchemaException e) {
                throw ApiException.invalid(param + ": " + e.getMessage(), param);
            }
        }
        return out;
    }

    /** A schema the output must follow exactly (a keyword the grammar cannot enforce is a 400 naming it). */
    public static JsonGrammar strictSchema(JsonNode schema, String param) throws ApiException {
        return compile(schema, true, param);
    }

    private static JsonGrammar compile(JsonNode schema, boolean strict, String param) throws ApiException {
        try {
            return JsonGrammar.compile(schema, strict);
        } catch (SchemaException e) {
            throw ApiException.invalid(param + ": " + e.getMessage(), param);
        }
    }
}
