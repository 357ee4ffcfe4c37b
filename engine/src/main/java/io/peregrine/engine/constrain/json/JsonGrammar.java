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

    /**
     * {@link #compile} for function parameters: the arguments are a JSON object, so whatever else the schema's
     * root admits (other types, non-object alternatives or enum values) is left out.
     *
     * @throws SchemaException also when the root admits no object at all
     */
    public static JsonGrammar compileObject(JsonNode schema, boolean strict) throws SchemaException {
        Node root = objectsOnly(SchemaCompiler.compile(schema, strict), 0);
        if (root == null) {
            throw new SchemaException("#", "function parameters must describe a JSON object");
        }
        return new JsonGrammar(root);
    }

    private static Node objectsOnly(Node n, int depth) {
        if (depth > SchemaCompiler.MAX_NESTING) {
            return null;
        }
        switch (n) {
            case Node.Ref r -> {
                return objectsOnly(r.target, depth + 1);
            }
            case Node.Typed t -> {
                if (t.object == null) {
                    return null;
                }
                Node.Typed only = new Node.Typed();
                only.object = t.object;
                only.satisfiable = true;
                only.objectNest = t.objectNest;
                only.nest = t.objectNest;
                return only;
            }
            case Node.AnyOf a -> {
                java.util.List<Node> keep = new java.util.ArrayList<>();
                for (Node alt : a.alternatives) {
                    Node o = objectsOnly(alt, depth + 1);
                    if (o != null) {
                        keep.add(o);
                    }
                }
                if (keep.isEmpty()) {
                    return null;
                }
                Node.AnyOf only = new Node.AnyOf();
                only.alternatives = keep.toArray(Node[]::new);
                only.satisfiable = true;
                only.nest = Node.UNBOUNDED;
                for (Node k : keep) {
                    only.nest = Math.min(only.nest, k.nest);
                }
                return only;
            }
            case Node.Literals l -> {
                java.util.List<byte[]> keep = new java.util.ArrayList<>();
                for (byte[] o : l.options) {
                    if (o[0] == '{') {
                        keep.add(o);
                    }
                }
                if (keep.isEmpty()) {
                    return null;
                }
                Node.Literals only = new Node.Literals();
                only.options = keep.toArray(byte[][]::new);
                only.satisfiable = true;
                only.nest = 0;
                return only;
            }
        }
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
        l.nest = 0;
        return new JsonGrammar(l);
    }

    private static JsonGrammar anyObjectGrammar() {
        Node.Typed any = SchemaCompiler.anyValue(null);
        Node.Typed object = new Node.Typed();
        object.object = any.object;
        object.satisfiable = true;
        object.nest = 1;
        object.objectNest = 1;
        return new JsonGrammar(object);
    }

    /** A matcher at the start of a value of this grammar. */
    public JsonMatcher matcher() {
        return JsonMatcher.start(this);
    }
}
