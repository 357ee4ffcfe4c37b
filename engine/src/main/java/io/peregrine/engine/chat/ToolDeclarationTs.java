package io.peregrine.engine.chat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Tool declarations as the TypeScript namespace the model was trained on: a Java port of Moonshot's
 * {@code tool_declaration_ts.py} (spec §6.3), behaviour for behaviour, because the prompt must match the reference
 * byte for byte. It works on plain JSON trees (maps, lists, strings, numbers, booleans, null) that
 * {@link PyJson#deepSort} has already sorted. Schemas the reference rejects throw {@link IllegalArgumentException};
 * the caller then falls back to JSON as the template does.
 */
public final class ToolDeclarationTs {
    private static final String INDENT = "  ";
    private static final String FIELD_DELIMITER = ",\n";

    private ToolDeclarationTs() {}

    /** {@code encode_tools_to_typescript_style}: "" when no tool is a function tool. */
    public static String encode(List<?> tools) {
        if (tools == null || tools.isEmpty()) {
            return "";
        }
        List<String> functions = new ArrayList<>();
        for (Object tool : tools) {
            Map<String, Object> t = asMap(tool, "tool");
            if ("function".equals(t.get("type"))) {
                Object fn = t.get("function");
                if (fn instanceof Map<?, ?> m && !m.isEmpty()) {
                    functions.add(function(asMap(fn, "function")));
                }
            }
        }
        if (functions.isEmpty()) {
            return "";
        }
        return "# Tools\n\n## functions\nnamespace functions {\n" + String.join("\n", functions) + "\n}\n";
    }

    private static String function(Map<String, Object> function) {
        Registry registry = new Registry();
        Object params = function.get("parameters");
        Map<String, Object> parameters = truthy(params) ? asMap(params, "parameters") : Map.of();
        ObjectType parsed = new ObjectType(parameters, registry);

        List<String> interfaces = new ArrayList<>();
        String rootInterface = null;
        if (registry.hasSelfRef) {
            rootInterface = "parameters";
            List<String> ps = new ArrayList<>();
            for (Parameter p : parsed.properties) {
                ps.add(p.ts(INDENT));
            }
            String body = String.join(FIELD_DELIMITER, ps);
            body = body.isEmpty() ? "" : "\n" + body + "\n";
            interfaces.add("interface " + rootInterface + " {" + body + "}");
        }
        for (Map.Entry<String, Object> def : new LinkedHashMap<>(registry.definitions).entrySet()) {
            Type type = parse(def.getValue(), registry);
            String body = type.ts("");
            String descriptionPart = "";
            if (def.getValue() instanceof Map<?, ?> dm && dm.get("description") instanceof String d && !d.isEmpty()) {
                descriptionPart = formatDescription(d, "") + "\n";
            }
            interfaces.add(descriptionPart + "interface " + def.getKey() + " " + body);
        }
        String interfaceStr = String.join("\n", interfaces);
        Object nameValue = function.containsKey("name") ? function.get("name") : "function";
        String name = PyJson.str(nameValue);
        String typeDef = rootInterface != null
                ? "type " + name + " = (_: " + rootInterface + ") => any;"
                : "type " + name + " = (_: " + parsed.ts("") + ") => any;";
        Object description = function.get("description");
        String descriptionStr = truthy(description) ? formatDescription(PyJson.str(description), "") : "";
        List<String> parts = new ArrayList<>();
        for (String s : List.of(interfaceStr, descriptionStr, typeDef)) {
            if (!s.isEmpty()) {
                parts.add(s);
            }
        }
        return String.join("\n", parts);
    }

    static String formatDescription(String description, String indent) {
        List<String> lines = new ArrayList<>();
        for (String line : description.split("\n", -1)) {
            lines.add(line.isEmpty() ? "" : indent + "// " + line);
        }
        return String.join("\n", lines);
    }

    /** Python truthiness of a JSON value. */
    static boolean truthy(Object v) {
        if (v == null) return false;
        if (v instanceof Boolean b) return b;
        if (v instanceof String s) return !s.isEmpty();
        if (v instanceof Map<?, ?> m) return !m.isEmpty();
        if (v instanceof List<?> l) return !l.isEmpty();
        if (v instanceof Number n) return n.doubleValue() != 0;
        return true;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object v, String what) {
        if (v instanceof Map<?, ?> m) {
            return (Map<String, Object>) m;
        }
        throw new IllegalArgumentException(what + " must be a JSON object, got " + PyJson.str(v));
    }

    // ------------------------------------------------------------------------------------------- schema types

    private static final class Registry {
        final Map<String, Object> definitions = new LinkedHashMap<>();
        boolean hasSelfRef;

        void register(Object defs) {
            if (defs instanceof Map<?, ?> m) {
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    definitions.put(String.valueOf(e.getKey()), e.getValue());
                }
            }
        }

        /** Returns null for the self reference "#". */
        Object resolve(String ref) {
            if (ref.equals("#")) {
                hasSelfRef = true;
                return null;
            }
            if (ref.startsWith("#/$defs/")) {
                String name = ref.substring(ref.lastIndexOf('/') + 1);
                if (!definitions.containsKey(name)) {
                    throw new IllegalArgumentException("Reference not found: " + ref);
                }
                return definitions.get(name);
            }
            throw new IllegalArgumentException("Unsupported reference format: " + ref);
        }
    }

    private abstract static class Type {
        final String description;
        final Map<String, Object> constraints = new TreeMap<>(PyJson.CODE_POINT_ORDER);

        Type(Map<String, Object> props, Set<String> constraintKeys) {
            Object d = props.get("description");
            this.description = d == null ? "" : PyJson.str(d);
            for (Map.Entry<String, Object> e : props.entrySet()) {
                if (constraintKeys.contains(e.getKey())) {
                    constraints.put(e.getKey(), e.getValue());
                }
            }
        }

        abstract String ts(String indent);

        String docstring(String indent) {
            List<String> lines = new ArrayList<>();
            if (!description.isEmpty()) {
                lines.add(formatDescription(description, indent));
            }
            if (!constraints.isEmpty()) {
                List<String> cs = new ArrayList<>();
                constraints.forEach((k, v) -> cs.add(k + ": " + PyJson.str(v)));
                lines.add(indent + "// " + String.join(", ", cs));
            }
            StringBuilder sb = new StringBuilder();
            for (String l : lines) {
                sb.append(l).append('\n');
            }
            return sb.toString();
        }
    }

    private static final class ScalarType extends Type {
        final String type;

        ScalarType(String type, Map<String, Object> props) {
            super(props, switch (type) {
                case "string" -> Set.of("maxLength", "minLength", "pattern");
                case "number", "integer" -> Set.of("maximum", "minimum");
                default -> Set.of();
            });
            this.type = type;
        }

        @Override
        String ts(String indent) {
            return type.equals("integer") ? "number" : type;
        }
    }

    private static final class ObjectType extends Type {
        final List<Parameter> properties = new ArrayList<>();
        Object additional; // null, Boolean, or Type

        ObjectType(Map<String, Object> schema, Registry registry) {
            super(schema, Set.of());
            if (schema.isEmpty()) {
                return;
            }
            if (schema.containsKey("$defs") && registry != null) {
                registry.register(schema.get("$defs"));
            }
            Object ap = schema.get("additionalProperties");
            additional = ap instanceof Map<?, ?> ? parse(ap, registry) : ap;
            if (!schema.containsKey("properties")) {
                return;
            }
            Map<String, Object> props = asMap(schema.get("properties"), "properties");
            Set<Object> required = new LinkedHashSet<>();
            if (schema.get("required") instanceof List<?> r) {
                required.addAll(r);
            }
            for (Map.Entry<String, Object> e : props.entrySet()) {
                Object prop = e.getValue();
                Object dflt = prop instanceof Map<?, ?> pm ? pm.get("default") : null;
                properties.add(new Parameter(e.getKey(), parse(prop, registry), !required.contains(e.getKey()), dflt));
            }
        }

        @Override
        String ts(String indent) {
            List<Parameter> ordered = new ArrayList<>();
            List<Parameter> optional = new ArrayList<>();
            for (Parameter p : properties) {
                (p.optional ? optional : ordered).add(p);
            }
            ordered.sort((a, b) -> PyJson.CODE_POINT_ORDER.compare(a.name, b.name));
            optional.sort((a, b) -> PyJson.CODE_POINT_ORDER.compare(a.name, b.name));
            ordered.addAll(optional);
            List<String> strs = new ArrayList<>();
            for (Parameter p : ordered) {
                strs.add(p.ts(indent + INDENT));
            }
            if (additional != null) {
                String ap;
                if (Boolean.TRUE.equals(additional)) {
                    ap = "any";
                } else if (Boolean.FALSE.equals(additional)) {
                    ap = "never";
                } else if (additional instanceof Type t) {
                    ap = t.ts(indent + INDENT);
                } else {
                    throw new IllegalArgumentException("Unknown additionalProperties: " + PyJson.str(additional));
                }
                strs.add(indent + INDENT + "[k: string]: " + ap);
            }
            if (strs.isEmpty()) {
                return "{}";
            }
            return "{\n" + String.join(FIELD_DELIMITER, strs) + "\n" + indent + "}";
        }
    }

    private static final class ArrayType extends Type {
        final Type item;

        ArrayType(Map<String, Object> schema, Registry registry) {
            super(schema, Set.of("minItems", "maxItems"));
            Object items = schema.get("items");
            item = truthy(items) ? parse(items, registry) : new ScalarType("any", Map.of());
        }

        @Override
        String ts(String indent) {
            String doc = item.docstring(indent + INDENT);
            if (!doc.isEmpty()) {
                return "Array<\n" + doc + indent + INDENT + item.ts(indent + INDENT) + "\n" + indent + ">";
            }
            return "Array<" + item.ts(indent) + ">";
        }
    }

    private static final class EnumType extends Type {
        final List<?> values;

        EnumType(Map<String, Object> schema) {
            super(schema, Set.of());
            if (!(schema.get("enum") instanceof List<?> l)) {
                throw new IllegalArgumentException("enum must be a list");
            }
            values = l;
            if (schema.containsKey("type")) {
                Object typ = schema.get("type");
                if (typ instanceof List<?> tl) {
                    if (tl.size() == 1) {
                        typ = tl.get(0);
                    } else if (tl.size() == 2 && tl.contains("null")) {
                        typ = !"null".equals(tl.get(0)) ? tl.get(0) : tl.get(1);
                    } else {
                        throw new IllegalArgumentException("Enum type " + PyJson.str(tl) + " is not supported");
                    }
                }
                for (Object v : values) {
                    if (v == null) {
                        continue;
                    }
                    boolean ok = switch (String.valueOf(typ)) {
                        case "string" -> v instanceof String;
                        case "number" -> v instanceof Number;
                        case "integer" -> v instanceof Number n && PyJson.isInteger(n);
                        case "boolean" -> v instanceof Boolean;
                        default -> true;
                    };
                    if (!ok) {
                        throw new IllegalArgumentException("Enum value " + PyJson.str(v) + " is not a " + typ);
                    }
                }
            }
        }

        @Override
        String ts(String indent) {
            List<String> out = new ArrayList<>();
            for (Object v : values) {
                out.add(v instanceof String s ? "\"" + s + "\"" : PyJson.str(v));
            }
            return String.join(" | ", out);
        }
    }

    private static final class AnyOfType extends Type {
        final List<Type> types = new ArrayList<>();

        AnyOfType(Map<String, Object> schema, Registry registry) {
            super(schema, Set.of());
            if (!(schema.get("anyOf") instanceof List<?> l)) {
                throw new IllegalArgumentException("anyOf must be a list");
            }
            for (Object t : l) {
                types.add(parse(t, registry));
            }
        }

        @Override
        String ts(String indent) {
            List<String> out = new ArrayList<>();
            for (Type t : types) {
                out.add(t.ts(indent));
            }
            return String.join(" | ", out);
        }
    }

    private static final class UnionType extends Type {
        static final Map<String, String> MAPPING = Map.of("string", "string", "number", "number", "integer",
                "number", "boolean", "boolean", "null", "null", "object", "{}", "array", "Array<any>");
        final List<String> types = new ArrayList<>();

        UnionType(Map<String, Object> schema) {
            super(schema, Set.of());
            for (Object t : (List<?>) schema.get("type")) {
                String mapped = MAPPING.get(String.valueOf(t));
                if (mapped == null || !(t instanceof String)) {
                    throw new IllegalArgumentException("unknown type in type list: " + PyJson.str(t));
                }
                types.add(mapped);
            }
        }

        @Override
        String ts(String indent) {
            return String.join(" | ", types);
        }
    }

    private static final class RefType extends Type {
        final String refName;

        RefType(Map<String, Object> schema, Registry registry) {
            super(schema, Set.of());
            String ref = PyJson.str(schema.get("$ref"));
            Object resolved = registry.resolve(ref);
            refName = resolved == null ? "parameters" : ref.substring(ref.lastIndexOf('/') + 1);
        }

        @Override
        String ts(String indent) {
            return refName;
        }
    }

    private record Parameter(String name, Type type, boolean optional, Object dflt) {
        String ts(String indent) {
            String comments = type.docstring(indent);
            if (dflt != null) {
                String repr = dflt instanceof Number || dflt instanceof Boolean
                        ? PyJson.reprNumberOrBool(dflt) : PyJson.dumps(dflt);
                comments += indent + "// Default: " + repr + "\n";
            }
            return comments + indent + name + (optional ? "?" : "") + ": " + type.ts(indent);
        }
    }

    @SuppressWarnings("unchecked")
    private static Type parse(Object schema, Registry registry) {
        if (schema instanceof Boolean b) {
            return new ScalarType(b ? "any" : "null", Map.of());
        }
        if (!(schema instanceof Map<?, ?> raw)) {
            throw new IllegalArgumentException("Invalid JSON Schema object: " + PyJson.str(schema));
        }
        Map<String, Object> s = (Map<String, Object>) raw;
        if (s.containsKey("$ref") && registry != null) {
            return new RefType(s, registry);
        }
        if (s.containsKey("anyOf")) {
            return new AnyOfType(s, registry);
        }
        if (s.containsKey("enum")) {
            return new EnumType(s);
        }
        if (s.containsKey("type")) {
            Object typ = s.get("type");
            if (typ instanceof List<?>) {
                return new UnionType(s);
            }
            if ("object".equals(typ)) {
                return new ObjectType(s, registry);
            }
            if ("array".equals(typ)) {
                return new ArrayType(s, registry);
            }
            return new ScalarType(PyJson.str(typ), s);
        }
        if (s.isEmpty()) {
            return new ScalarType("any", Map.of());
        }
        throw new IllegalArgumentException("Invalid JSON Schema object: " + PyJson.str(s));
    }
}
