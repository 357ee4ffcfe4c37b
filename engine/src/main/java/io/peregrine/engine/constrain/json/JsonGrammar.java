package io.peregrine.engine.constrain.json;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;

/**
 * The JSON texts a schema admits, compiled for byte-level matching ({@link JsonMatcher}). Immutable and
 * thread-safe: compile once per request (or tool) and let every choice match against it.
 */
public final class JsonGrammar {
    private static final JsonGrammar ANY_OBJECT = anyObjectGrammar();

    final Node root;

    private JsonGrammar(Node root) {
        this.root = root;
    }

    /**
     * @param strict refuse keywords the grammar does not enforce (pattern, format, minimum, ...) instead of
     *               dropping them
     * @throws SchemaException naming the keyword and its JSON pointer when the schema is malformed, unsatisfiable,
     *                         too large or (strict) not fully enforceable
     */
    public static JsonGrammar compile(JsonNode schema, boolean strict) throws SchemaException {
        return new JsonGrammar(SchemaCompiler.compile(schema, strict));
    }

    /** Any JSON object (OpenAI's {@code json_object} mode, and the arguments of a non-strict tool). */
    public static JsonGrammar anyObject() {
        return ANY_OBJECT;
    }

    /** Exactly this compact JSON text (e.g. {@code {}} for a function without parameters). */
    public static JsonGrammar exactly(String json) {
        Node.Literals l = new Node.Literals();
        l.options = new byte[][] {json.getBytes(StandardCharsets.UTF_8)};
        l.satisfiable = true;
        return new JsonGrammar(l);
    }

    private static JsonGrammar anyObjectGrammar() {
        Node.Typed any = SchemaCompiler.anyValue(null);
        Node.Typed object = new Node.Typed();
        object.object = any.object;
        object.satisfiable = true;
        return new JsonGrammar(object);
    }

    /** A matcher at the start of a value of this grammar. */
    public JsonMatcher matcher() {
        return JsonMatcher.start(this);
    }
}
