package io.peregrine.server.anthropic;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.engine.constrain.json.JsonGrammar;
import io.peregrine.server.chat.StructuredOutput;
import io.peregrine.server.http.ApiException;
import java.util.Iterator;

/**
 * Anthropic's structured outputs: {@code output_format: {"type": "json_schema", "schema": {...}}} (the beta shape)
 * or {@code output_config: {"format": {...}}} (the GA shape). The answer's text must then be JSON of that schema;
 * Anthropic's structured outputs are always strict, so a keyword the grammar cannot enforce is a 400.
 */
final class OutputFormat {
    private OutputFormat() {}

    /** The grammar the answer must follow, or null when the request asks for none. */
    static JsonGrammar of(JsonNode tree) throws ApiException {
        JsonNode beta = present(tree.get("output_format"));
        JsonNode config = present(tree.get("output_config"));
        if (beta != null && config != null) {
            throw ApiException.invalid("send output_format or output_config.format, not both", "output_config");
        }
        if (config != null) {
            if (!config.isObject()) {
                throw ApiException.invalid("output_config must be an object", "output_config");
            }
            for (Iterator<String> it = config.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                if (!key.equals("format")) {
                    throw ApiException.unsupported("output_config." + key + " is not supported (only format)",
                            "output_config." + key);
                }
            }
            return format(present(config.get("format")), "output_config.format");
        }
        return format(beta, "output_format");
    }

    private static JsonGrammar format(JsonNode format, String param) throws ApiException {
        if (format == null) {
            return null;
        }
        if (!format.isObject() || !"json_schema".equals(format.path("type").asText())) {
            throw ApiException.invalid(param + " must be {\"type\": \"json_schema\", \"schema\": {...}}", param + ".type");
        }
        JsonNode schema = format.get("schema");
        if (schema == null || !schema.isObject()) {
            throw ApiException.invalid(param + ".schema must be a JSON Schema object", param + ".schema");
        }
        return StructuredOutput.strictSchema(schema, param + ".schema");
    }

    private static JsonNode present(JsonNode v) {
        return v == null || v.isNull() ? null : v;
    }
}
