package io.peregrine.engine.parse;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A tool call the model made. {@code arguments} is the model's JSON text, unmodified.
 *
 * @param complete false when generation stopped before {@code <|tool_call_end|>} (arguments may be cut)
 */
public record ParsedToolCall(int index, String id, String name, String arguments, boolean complete) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Whether the arguments are one JSON object and nothing else, so a server can refuse to dispatch (or flag) a
     * call whose arguments a client could not parse.
     */
    public boolean argumentsAreJsonObject() {
        try (var parser = JSON.createParser(arguments)) {
            JsonNode n = JSON.readTree(parser);
            return n != null && n.isObject() && parser.nextToken() == null;
        } catch (JsonProcessingException e) {
            return false;
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
