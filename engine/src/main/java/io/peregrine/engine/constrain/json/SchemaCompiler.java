package io.peregrine.engine.constrain.json;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a JSON Schema document into the node graph the matcher walks. Enforced: type (and type arrays, OpenAPI
 * {@code nullable}), properties / required / additionalProperties, items / prefixItems (and draft-7 tuple
 * {@code items} + additionalItems) / minItems / maxItems, minLength / maxLength, enum, const, anyOf, oneOf (as
 * anyOf: the grammar does not check that only one alternative matches), allOf of object schemas, local
 * {@code $ref} (recursion allowed). Annotations are ignored. The keywords in {@link #UNENFORCED} are refused
 * when {@code strict} and dropped otherwise (best effort: the output may then break them).
 */
final class SchemaCompiler {
    static final int MAX_NESTING = 32;
    static final int MAX_NODES = 10_000;
    static final int MAX_PROPERTIES = 64;
    static final int MAX_ENUM = 1_000;
    static final int MAX_ALTERNATIVES = Out.MAX_WIDTH;

    static final Set<String> UNENFORCED = Set.of("pattern", "format", "minimum", "maximum", "exclusiveMinimum",
            "exclusiveMaximum", "multipleOf", "patternProperties", "propertyNames", "minProperties", "maxProperties",
            "uniqueItems", "contains", "minContains", "maxContains", "not", "if", "then", "else", "dependentRequired",
            "dependentSchemas", "dependencies", "unevaluatedProperties", "unevaluatedItems", "contentEncoding",
            "contentMediaType", "contentSchema", "$dynamicRef", "$recursiveRef");
    static final Set<String> ANNOTATIONS = Set.of("title", "description", "default", "examples", "$comment",
            "$schema", "$id", "$anchor", "$dynamicAnchor", "$recursiveAnchor", "$vocabulary", "deprecated", "readOnly",
            "writeOnly", "$defs", "definitions", "discriminator", "example", "x-order");
    private static final Set<String> TYPES = Set.of("null", "boolean", "integer", "number", "string", "object", "array");
    private static final ObjectMapper COMPACT = new ObjectMapper();

    private final JsonNode document;
    private final boolean strict;
    private final List<Node> nodes = new ArrayList<>();
    private final Map<String, Node.Ref> refs = new HashMap<>();
    private Node.Typed any;
    private int nesting;

    private SchemaCompiler(JsonNode document, boolean strict) {
        this.document = document;
        this.strict = strict;
    }

    static Node compile(JsonNode schema, boolean strict) throws SchemaException {
        if (schema == null || !schema.isObject() && !schema.isBoolean()) {
            throw new SchemaException("#", "a JSON Schema must be an object, got "
                    + (schema == null ? "nothing" : schema.getNodeType().name().toLowerCase()));
        }
        SchemaCompiler c = new SchemaCompiler(schema, strict);
        Node root = c.node(schema, "#");
        GraphAnalysis.resolve(c.nodes);
        checkAlternatives(c.nodes);
        GraphAnalysis.checkOneOf(c.nodes);
        GraphAnalysis.nesting(c.nodes);
        if (!root.satisfiable) {
            throw new SchemaException("#", "no JSON value satisfies this schema");
        }
        if (root.nest > Frame.MAX_DEPTH) {
            throw new SchemaException("#", "every value of this schema nests deeper than "
                    + Frame.MAX_DEPTH + " levels");
        }
        return root;
    }

    /**
     * The matcher follows at most {@link Out#MAX_WIDTH} parses at once, so an anyOf with more alternatives (nested
     * anyOf and $ref expanded) would have some that no output could ever take: refused rather than quietly narrowed.
     */
    private static void checkAlternatives(List<Node> nodes) throws SchemaException {
        for (Node n : nodes) {
            if (n instanceof Node.AnyOf a && a.alternatives.length > MAX_ALTERNATIVES) {
                throw new SchemaException(a.path, "at most " + MAX_ALTERNATIVES + " anyOf/oneOf alternatives are "
                        + "supported (nested anyOf and $ref expanded), got " + a.alternatives.length
                        + "; merge alternatives (one enum instead of many consts, one object with optional properties)");
            }
        }
    }

    /** Any JSON value: all types, objects with any keys, arrays of any length, all of it recursive. */
    static Node.Typed anyValue(List<Node> registry) {
        Node.Typed t = new Node.Typed();
        t.allowNull = true;
        t.allowBool = true;
        t.number = 2;
        t.string = new Node.StringSpec(0, Integer.MAX_VALUE);
        Node.ObjectSpec o = new Node.ObjectSpec();
        o.names = new String[0];
        o.trie = NameTrie.of(o.names);
        o.properties = new Node[0];
        o.additional = t;
        t.object = o;
        Node.ArraySpec a = new Node.ArraySpec();
        a.prefix = new Node[0];
        a.items = t;
        a.maxItems = Integer.MAX_VALUE;
        t.array = a;
        t.satisfiable = true;
        t.nest = 0;
        t.objectNest = 1;
        t.arrayNest = 1;
        if (registry != null) {
            registry.add(t);
        }
        return t;
    }

    private Node any() {
        if (any == null) {
            any = anyValue(nodes);
        }
        return any;
    }

    private <N extends Node> N register(N n, String path) throws SchemaException {
        if (nodes.size() >= MAX_NODES) {
            throw new SchemaException(path, "the schema is too large (over " + MAX_NODES + " subschemas)");
        }
        nodes.add(n);
        return n;
    }

    private Node node(JsonNode s, String path) throws SchemaException {
        if (++nesting > MAX_NESTING) {
            throw new SchemaException(path, "the schema nests deeper than " + MAX_NESTING + " levels");
        }
        try {
            return nodeUnchecked(s, path);
        } finally {
            nesting--;
        }
    }

    private Node nodeUnchecked(JsonNode s, String path) throws SchemaException {
        if (s.isBoolean()) {
            return s.booleanValue() ? any() : register(new Node.Typed(), path);
        }
        if (!s.isObject()) {
            throw new SchemaException(path, "a schema must be an object or a boolean, got "
                    + s.getNodeType().name().toLowerCase());
        }
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (strict && UNENFORCED.contains(k) && !(k.equals("uniqueItems") && !s.get(k).asBoolean())) {
                throw new SchemaException(path + "/" + escape(k), "keyword '" + k + "' is not enforced by the "
                        + "structured-output grammar, so strict mode cannot guarantee it; remove it or set strict "
                        + "to false (enforced: type, enum, const, properties, required, additionalProperties, "
                        + "items, prefixItems, minItems, maxItems, minLength, maxLength, anyOf, oneOf, allOf, $ref)");
            }
        }
        if (s.has("$ref")) {
            requireAlone(s, path, "$ref");
            JsonNode ref = s.get("$ref");
            if (!ref.isTextual()) {
                throw new SchemaException(path + "/$ref", "$ref must be a string");
            }
            return ref(ref.textValue(), path + "/$ref");
        }
        if (s.has("allOf")) {
            return allOf(s, path);
        }
        if (s.has("anyOf") || s.has("oneOf")) {
            if (s.has("anyOf") && s.has("oneOf")) {
                throw new SchemaException(path, "anyOf and oneOf together are not supported");
            }
            String key = s.has("anyOf") ? "anyOf" : "oneOf";
            requireAlone(s, path, key);
            JsonNode alts = s.get(key);
            if (!alts.isArray() || alts.isEmpty()) {
                throw new SchemaException(path + "/" + key, key + " must be a non-empty array of schemas");
            }
            Node.AnyOf a = register(new Node.AnyOf(), path);
            a.oneOfPath = key.equals("oneOf") && strict ? path + "/oneOf" : null;
            a.path = path + "/" + key;
            a.alternatives = new Node[alts.size()];
            for (int i = 0; i < alts.size(); i++) {
                a.alternatives[i] = node(alts.get(i), path + "/" + key + "/" + i);
            }
            return a.alternatives.length == 1 ? a.alternatives[0] : a;
        }
        if (s.has("enum") || s.has("const")) {
            return literals(s, path);
        }
        return typed(s, path);
    }

    /** Keywords next to $ref / anyOf that the grammar would have to combine with it (annotations are fine). */
    private void requireAlone(JsonNode s, String path, String keyword) throws SchemaException {
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!k.equals(keyword) && !ANNOTATIONS.contains(k) && !UNENFORCED.contains(k) && isKnown(k) && strict
                    && !(k.equals("nullable") && !s.get(k).asBoolean())) {
                throw new SchemaException(path + "/" + escape(k), "'" + k + "' next to " + keyword
                        + " is not supported; move it into the referenced or alternative schemas");
            }
        }
    }

    private static boolean isKnown(String k) {
        return Set.of("type", "properties", "required", "additionalProperties", "items", "prefixItems",
                "additionalItems", "minItems", "maxItems", "minLength", "maxLength", "enum", "const", "nullable",
                "anyOf", "oneOf", "allOf", "$ref").contains(k);
    }

    private Node ref(String pointer, String path) throws SchemaException {
        if (!pointer.startsWith("#")) {
            throw new SchemaException(path, "only local $ref ('#', '#/$defs/...') is supported, got '"
                    + clip(pointer) + "'");
        }
        Node.Ref known = refs.get(pointer);
        if (known != null) {
            return known;
        }
        JsonNode target = target(pointer, path);
        Node.Ref r = register(new Node.Ref(pointer), path);
        refs.put(pointer, r);
        r.target = node(target, pointer);
        return r;
    }

    private JsonNode target(String pointer, String path) throws SchemaException {
        JsonNode target;
        try {
            target = pointer.equals("#") ? document : document.at(pointer.substring(1));
        } catch (IllegalArgumentException e) {
            throw new SchemaException(path, "$ref '" + clip(pointer) + "' is not a JSON pointer");
        }
        if (target == null || target.isMissingNode()) {
            throw new SchemaException(path, "$ref '" + clip(pointer) + "' points to nothing in this schema");
        }
        return target;
    }

    private Node typed(JsonNode s, String path) throws SchemaException {
        Node.Typed t = register(new Node.Typed(), path);
        Set<String> types = types(s, path);
        t.allowNull = types.contains("null");
        t.allowBool = types.contains("boolean");
        t.number = types.contains("number") ? 2 : types.contains("integer") ? 1 : 0;
        if (types.contains("string")) {
            int min = count(s, "minLength", 0, path);
            int max = count(s, "maxLength", Integer.MAX_VALUE, path);
            t.string = new Node.StringSpec(min, max);
        }
        if (types.contains("object")) {
            t.object = object(s, path);
        }
        if (types.contains("array")) {
            t.array = array(s, path);
        }
        return t;
    }

    /** The declared types; without {@code type}, those whose keywords appear (all of them when none do). */
    private static Set<String> types(JsonNode s, String path) throws SchemaException {
        Set<String> types = new LinkedHashSet<>();
        JsonNode type = s.get("type");
        if (type == null || type.isNull()) {
            if (s.has("properties") || s.has("required") || s.has("additionalProperties")) {
                types.add("object");
            }
            if (s.has("items") || s.has("prefixItems") || s.has("minItems") || s.has("maxItems")) {
                types.add("array");
            }
            if (s.has("minLength") || s.has("maxLength")) {
                types.add("string");
            }
            if (types.isEmpty()) {
                types.addAll(TYPES);
            }
        } else if (type.isTextual()) {
            types.add(checkType(type.textValue(), path));
        } else if (type.isArray() && !type.isEmpty()) {
            for (JsonNode t : type) {
                if (!t.isTextual()) {
                    throw new SchemaException(path + "/type", "type must be a string or an array of strings");
                }
                types.add(checkType(t.textValue(), path));
            }
        } else {
            throw new SchemaException(path + "/type", "type must be a string or a non-empty array of strings");
        }
        if (s.path("nullable").asBoolean(false)) {
            types.add("null");
        }
        return types;
    }

    private static String checkType(String t, String path) throws SchemaException {
        if (!TYPES.contains(t)) {
            throw new SchemaException(path + "/type", "unknown type '" + clip(t) + "' (expected one of "
                    + "null, boolean, integer, number, string, object, array)");
        }
        return t;
    }

    private static int count(JsonNode s, String key, int absent, String path) throws SchemaException {
        JsonNode v = s.get(key);
        if (v == null || v.isNull()) {
            return absent;
        }
        if (!v.isIntegralNumber() && !(v.isNumber() && v.doubleValue() == Math.rint(v.doubleValue()))
                || v.doubleValue() < 0) {
            throw new SchemaException(path + "/" + key, key + " must be a non-negative integer");
        }
        return v.doubleValue() >= Integer.MAX_VALUE ? Integer.MAX_VALUE : v.intValue();
    }

    private Node.ObjectSpec object(JsonNode s, String path) throws SchemaException {
        Node.ObjectSpec o = new Node.ObjectSpec();
        JsonNode add = s.get("additionalProperties");
        if (add == null || add.isNull() || add.isBoolean() && add.booleanValue()) {
            o.additional = any();
        } else if (add.isBoolean()) {
            o.additional = null;
        } else {
            o.additional = node(add, path + "/additionalProperties");
        }
        Map<String, Node> props = new LinkedHashMap<>();
        JsonNode p = s.get("properties");
        if (p != null && !p.isNull()) {
            if (!p.isObject()) {
                throw new SchemaException(path + "/properties", "properties must be an object of schemas");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = p.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                checkName(e.getKey(), path + "/properties");
                props.put(e.getKey(), node(e.getValue(), path + "/properties/" + escape(e.getKey())));
            }
        }
        List<String> required = new ArrayList<>();
        JsonNode r = s.get("required");
        if (r != null && !r.isNull()) {
            if (!r.isArray()) {
                throw new SchemaException(path + "/required", "required must be an array of property names");
            }
            for (JsonNode n : r) {
                if (!n.isTextual()) {
                    throw new SchemaException(path + "/required", "required must be an array of property names");
                }
                String name = n.textValue();
                if (!props.containsKey(name)) {
                    if (o.additional == null) {
                        throw new SchemaException(path + "/required", "required property '" + clip(name)
                                + "' is not in properties and additionalProperties is false: no object can match");
                    }
                    checkName(name, path + "/required");
                    props.put(name, o.additional);
                }
                required.add(name);
            }
        }
        if (props.size() > MAX_PROPERTIES) {
            throw new SchemaException(path + "/properties", "at most " + MAX_PROPERTIES
                    + " properties per object are supported, got " + props.size());
        }
        o.names = props.keySet().toArray(String[]::new);
        o.trie = NameTrie.of(o.names);
        o.properties = props.values().toArray(Node[]::new);
        for (String name : required) {
            o.required |= 1L << List.of(o.names).indexOf(name);
        }
        return o;
    }

    private static void checkName(String name, String path) throws SchemaException {
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '"' || c == '\\' || c < 0x20) {
                throw new SchemaException(path, "property name '" + clip(name) + "' needs JSON escaping, which "
                        + "structured output does not support in keys");
            }
        }
    }

    private Node.ArraySpec array(JsonNode s, String path) throws SchemaException {
        Node.ArraySpec a = new Node.ArraySpec();
        List<Node> prefix = new ArrayList<>();
        JsonNode pre = s.get("prefixItems");
        JsonNode items = s.get("items");
        JsonNode rest = items;
        String restPath = path + "/items";
        if (items != null && items.isArray()) { // draft 7 tuples
            pre = items;
            rest = s.get("additionalItems");
            restPath = path + "/additionalItems";
        }
        if (pre != null && !pre.isNull()) {
            if (!pre.isArray()) {
                throw new SchemaException(path + "/prefixItems", "prefixItems must be an array of schemas");
            }
            for (int i = 0; i < pre.size(); i++) {
                prefix.add(node(pre.get(i), path + "/" + (pre == items ? "items" : "prefixItems") + "/" + i));
            }
        }
        a.prefix = prefix.toArray(Node[]::new);
        if (rest == null || rest.isNull() || rest.isBoolean() && rest.booleanValue()) {
            a.items = any();
        } else if (rest.isBoolean()) {
            a.items = null;
        } else {
            a.items = node(rest, restPath);
        }
        a.minItems = count(s, "minItems", 0, path);
        a.maxItems = count(s, "maxItems", Integer.MAX_VALUE, path);
        return a;
    }

    private Node literals(JsonNode s, String path) throws SchemaException {
        List<JsonNode> values = new ArrayList<>();
        if (s.has("enum")) {
            JsonNode e = s.get("enum");
            if (!e.isArray()) {
                throw new SchemaException(path + "/enum", "enum must be an array");
            }
            e.forEach(values::add);
            if (s.has("const")) {
                values.removeIf(v -> !v.equals(s.get("const")));
            }
        } else {
            values.add(s.get("const"));
        }
        if (values.size() > MAX_ENUM) {
            throw new SchemaException(path + "/enum", "at most " + MAX_ENUM + " enum values are supported");
        }
        Set<String> types = s.has("type") ? types(s, path) : TYPES;
        int minLength = count(s, "minLength", 0, path);
        int maxLength = count(s, "maxLength", Integer.MAX_VALUE, path);
        Node.Literals l = register(new Node.Literals(), path);
        List<byte[]> options = new ArrayList<>();
        for (JsonNode v : values) {
            if (!types.contains(typeOf(v)) && !(typeOf(v).equals("integer") && types.contains("number"))) {
                continue;
            }
            if (v.isTextual()) {
                int n = v.textValue().codePointCount(0, v.textValue().length());
                if (n < minLength || n > maxLength) {
                    continue;
                }
            }
            try {
                options.add(COMPACT.writeValueAsBytes(v));
            } catch (JsonProcessingException e) {
                throw new SchemaException(path, "cannot serialise an enum value: " + e.getOriginalMessage());
            }
        }
        l.options = options.toArray(byte[][]::new);
        return l;
    }

    private static String typeOf(JsonNode v) {
        if (v.isNull()) {
            return "null";
        }
        if (v.isBoolean()) {
            return "boolean";
        }
        if (v.isNumber()) {
            return v.isIntegralNumber() || v.doubleValue() == Math.rint(v.doubleValue()) ? "integer" : "number";
        }
        if (v.isTextual()) {
            return "string";
        }
        return v.isArray() ? "array" : "object";
    }

    /**
     * allOf of object schemas, merged into one object schema: a key's schema is the one branch that declares it
     * (keys declared by several branches are refused), and each branch's additionalProperties applies to the keys
     * it does not declare. Anything else under allOf is refused when strict and read as "any value" otherwise.
     */
    private Node allOf(JsonNode s, String path) throws SchemaException {
        JsonNode all = s.get("allOf");
        if (!all.isArray() || all.isEmpty()) {
            throw new SchemaException(path + "/allOf", "allOf must be a non-empty array of schemas");
        }
        List<JsonNode> branches = new ArrayList<>();
        List<String> paths = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            JsonNode b = all.get(i);
            String bp = path + "/allOf/" + i;
            for (int hops = 0; b.isObject() && b.has("$ref") && hops < 16; hops++) {
                bp = b.get("$ref").asText();
                if (!bp.startsWith("#")) {
                    throw new SchemaException(path + "/allOf/" + i, "only local $ref is supported");
                }
                b = target(bp, path + "/allOf/" + i);
            }
            branches.add(b);
            paths.add(bp);
        }
        ObjectNode siblings = JsonNodeFactory.instance.objectNode();
        for (Iterator<Map.Entry<String, JsonNode>> it = s.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getKey().equals("allOf") && !ANNOTATIONS.contains(e.getKey())) {
                siblings.set(e.getKey(), e.getValue());
            }
        }
        if (!siblings.isEmpty()) {
            branches.add(siblings);
            paths.add(path);
        }
        if (branches.size() == 1) {
            return node(branches.getFirst(), paths.getFirst());
        }
        JsonNode merged = AllOfMerge.merge(branches, paths, strict);
        return merged == null ? any() : node(merged, path + "/allOf");
    }

    static String escape(String key) {
        return key.replace("~", "~0").replace("/", "~1");
    }

    static String clip(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }
}
