package io.peregrine.api.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;

/**
 * A function call: in a response (or a streamed fragment) {@code arguments} is JSON text, a JSON string on the
 * wire. In a request's history clients also send the arguments as a JSON object (several agent frameworks do), so
 * the component keeps whatever JSON was sent and the server validates it; the template renders an object the way
 * the reference renders one.
 *
 * @param arguments JSON text as a string node, or the object a client sent; null when absent
 */
public record FunctionCall(String name, JsonNode arguments) {

    /** A call whose arguments are JSON text (or a fragment of it in a streamed delta). */
    public FunctionCall(String name, String arguments) {
        this(name, arguments == null ? null : (JsonNode) TextNode.valueOf(arguments));
    }
}
