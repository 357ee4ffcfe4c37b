package io.peregrine.engine.constrain.json;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * allOf of object schemas, merged into one object schema: a key's schema is the one branch that declares it (keys
 * declared differently by several branches are refused), and each branch's additionalProperties applies to the
 * keys it does not declare, so a key one branch declares and another closes off cannot appear.
 */
final class AllOfMerge {
    private AllOfMerge() {}

    /**
     * @param branches the allOf items ($refs followed) and the siblings of allOf, each an object schema
     * @param paths    where each branch is, for error messages
     * @return the merged schema, or null when a branch is not an object schema and {@code strict} is false (the
     *         caller then allows any value: best effort)
     */
    static JsonNode merge(List<JsonNode> branches, List<String> paths, boolean strict) throws SchemaException {
        ObjectNode merged = JsonNodeFactory.instance.objectNode();
        merged.put("type", "object");
        ObjectNode props = merged.putObject("properties");
        Set<String> required = new LinkedHashSet<>();
        JsonNode additional = null; // null: any
        boolean closed = false;
        for (int i = 0; i < branches.size(); i++) {
            JsonNode b = branches.get(i);
            String bp = paths.get(i);
            if (!b.isObject() || !objectOnly(b)) {
                if (strict) {
                    throw new SchemaException(bp, "allOf is only supported over object schemas (type, properties, "
                            + "required, additionalProperties)");
                }
                return null;
            }
            JsonNode add = b.get("additionalProperties");
            if (add != null && add.isBoolean() && !add.booleanValue()) {
                closed = true;
            } else if (add != null && !isAny(add)) {
                if (additional != null) {
                    throw new SchemaException(bp, "allOf with additionalProperties schemas in two branches is "
                            + "not supported");
                }
                additional = add;
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = b.path("properties").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (props.has(e.getKey()) && !isAny(e.getValue()) && !isAny(props.get(e.getKey()))
                        && !e.getValue().equals(props.get(e.getKey()))) {
                    throw new SchemaException(bp + "/properties/" + SchemaCompiler.escape(e.getKey()), "allOf declares property '"
                            + SchemaCompiler.clip(e.getKey()) + "' in two branches, which is not supported");
                }
                if (!props.has(e.getKey()) || isAny(props.get(e.getKey()))) {
                    props.set(e.getKey(), e.getValue());
                }
            }
            b.path("required").forEach(n -> required.add(n.asText()));
        }
        // a key one branch declares and another forbids (its additionalProperties false) cannot appear
        for (int i = 0; i < branches.size(); i++) {
            JsonNode b = branches.get(i);
            JsonNode add = b.get("additionalProperties");
            if (add != null && add.isBoolean() && !add.booleanValue()) {
                for (Iterator<String> it = props.fieldNames(); it.hasNext(); ) {
                    String k = it.next();
                    if (!b.path("properties").has(k)) {
                        if (required.contains(k)) {
                            throw new SchemaException(paths.get(i), "allOf requires property '" + SchemaCompiler.clip(k)
                                    + "' that another branch forbids: no object can match");
                        }
                        it.remove();
                    }
                }
            }
        }
        ArrayNode req = merged.putArray("required");
        required.forEach(req::add);
        if (closed) {
            merged.put("additionalProperties", false);
        } else if (additional != null) {
            merged.set("additionalProperties", additional);
        }
        return merged;
    }

    private static boolean objectOnly(JsonNode b) {
        for (Iterator<String> it = b.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (k.equals("type") ? !"object".equals(b.get(k).asText())
                    : !Set.of("properties", "required", "additionalProperties").contains(k) && !SchemaCompiler.ANNOTATIONS.contains(k)) {
                return false;
            }
        }
        return true;
    }

    private static boolean isAny(JsonNode s) {
        if (s.isBoolean()) {
            return s.booleanValue();
        }
        if (!s.isObject()) {
            return false;
        }
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            if (!SchemaCompiler.ANNOTATIONS.contains(it.next())) {
                return false;
            }
        }
        return true;
    }

}
