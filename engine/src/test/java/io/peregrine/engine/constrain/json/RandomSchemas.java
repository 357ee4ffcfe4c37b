package io.peregrine.engine.constrain.json;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.util.SplittableRandom;

/** Random JSON Schemas (draft 2020-12) over every keyword the grammar enforces, and the independent validator. */
final class RandomSchemas {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    static final String[] NAMES = {"a", "b", "id", "name", "x y", "ключ", "emoji😀", "ab"};
    private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);

    private final SplittableRandom r;

    RandomSchemas(SplittableRandom r) {
        this.r = r;
    }

    /** A schema with one recursive definition that the body may reference. */
    ObjectNode document() {
        ObjectNode root = node(3);
        if (r.nextInt(3) == 0) {
            ObjectNode def = F.objectNode();
            def.put("type", "object");
            ObjectNode props = def.putObject("properties");
            props.set("v", F.objectNode().put("type", "integer"));
            ArrayNode alts = props.putObject("next").putArray("anyOf");
            alts.add(F.objectNode().put("$ref", "#/$defs/list"));
            alts.add(F.objectNode().put("type", "null"));
            def.putArray("required").add("v");
            def.put("additionalProperties", false);
            ObjectNode wrapper = F.objectNode();
            wrapper.putObject("$defs").set("list", def);
            wrapper.put("type", "object");
            wrapper.putObject("properties");
            ((ObjectNode) wrapper.get("properties")).set("head", F.objectNode().put("$ref", "#/$defs/list"));
            ((ObjectNode) wrapper.get("properties")).set("body", root);
            wrapper.putArray("required").add("head");
            return wrapper;
        }
        return root;
    }

    ObjectNode node(int depth) {
        int kind = depth <= 0 ? r.nextInt(7) : r.nextInt(11);
        ObjectNode s = F.objectNode();
        switch (kind) {
            case 0 -> {
                s.put("type", "string");
                if (r.nextBoolean()) {
                    s.put("minLength", r.nextInt(3));
                }
                if (r.nextBoolean()) {
                    s.put("maxLength", 2 + r.nextInt(6));
                }
            }
            case 1 -> s.put("type", "integer");
            case 2 -> s.put("type", "number");
            case 3 -> s.put("type", r.nextBoolean() ? "boolean" : "null");
            case 4 -> {
                ArrayNode e = s.putArray("enum");
                e.add("red").add("green").add(12).add(1).add(F.nullNode()).add("é\"\\");
            }
            case 5 -> s.set("const", r.nextBoolean() ? F.textNode("fixed") : F.objectNode().put("k", 2.5));
            case 6 -> s.putArray("type").add("string").add("null");
            case 7, 8 -> {
                s.put("type", "object");
                ObjectNode props = s.putObject("properties");
                ArrayNode req = F.arrayNode();
                int n = r.nextInt(4);
                for (int i = 0; i < n; i++) {
                    String name = NAMES[r.nextInt(NAMES.length)];
                    props.set(name, node(depth - 1));
                    if (r.nextBoolean()) {
                        req.add(name);
                    }
                }
                if (!req.isEmpty()) {
                    s.set("required", req);
                }
                switch (r.nextInt(4)) {
                    case 0 -> s.put("additionalProperties", false);
                    case 1 -> s.set("additionalProperties", node(0));
                    case 2 -> s.put("additionalProperties", true);
                    default -> { }
                }
            }
            case 9 -> {
                s.put("type", "array");
                if (r.nextInt(3) == 0) {
                    ArrayNode pre = s.putArray("prefixItems");
                    pre.add(node(depth - 1));
                    if (r.nextBoolean()) {
                        s.put("items", false);
                    }
                } else {
                    s.set("items", node(depth - 1));
                }
                if (r.nextBoolean()) {
                    s.put("minItems", r.nextInt(2));
                }
                if (r.nextBoolean()) {
                    s.put("maxItems", 1 + r.nextInt(3));
                }
            }
            default -> {
                ArrayNode alts = s.putArray(r.nextBoolean() ? "anyOf" : "oneOf");
                alts.add(node(depth - 1));
                alts.add(node(depth - 1));
                if (alts.get(0).equals(alts.get(1)) || s.has("oneOf")) {
                    s.set("anyOf", s.remove(s.has("oneOf") ? "oneOf" : "anyOf")); // oneOf needs exactly one match
                }
            }
        }
        return s;
    }

    static boolean valid(JsonNode schema, JsonNode instance) {
        Schema s = REGISTRY.getSchema(schema);
        return s.validate(instance).isEmpty();
    }
}
