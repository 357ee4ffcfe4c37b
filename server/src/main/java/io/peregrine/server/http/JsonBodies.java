package io.peregrine.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Turns a request body into a wire record, mapping every Jackson failure to a 400 that names the field.
 * Unknown top-level fields are by default ignored and logged, as vLLM does ("present in the request but
 * ignored"): the OpenAI SDKs and agent frameworks send harmless extras, and rejecting them breaks clients. In
 * strict mode they are a 400 instead, for deployments that prefer to catch misspelled fields.
 */
public final class JsonBodies {
    private static final Logger LOG = Logger.getLogger(JsonBodies.class.getName());

    private final ObjectMapper mapper;
    private final boolean rejectUnknownFields;

    public JsonBodies(ObjectMapper mapper, boolean rejectUnknownFields) {
        this.mapper = mapper;
        this.rejectUnknownFields = rejectUnknownFields;
    }

    public ObjectMapper mapper() {
        return mapper;
    }

    /** A parsed body: the typed record and the raw tree (for fields whose presence matters). */
    public record Parsed<T>(T value, JsonNode tree) {}

    public <T extends Record> Parsed<T> read(byte[] body, Class<T> type) throws ApiException {
        if (body.length == 0) {
            throw ApiException.invalid("The request body is empty; expected a JSON object", null);
        }
        JsonNode tree;
        try {
            tree = mapper.readTree(body);
        } catch (IOException e) {
            throw ApiException.invalid("The request body is not valid JSON: " + shortMessage(e), null);
        }
        if (tree == null || !tree.isObject()) {
            throw ApiException.invalid("The request body must be a JSON object", null);
        }
        logUnknownFields(tree, type);
        try {
            return new Parsed<>(mapper.treeToValue(tree, type), tree);
        } catch (MismatchedInputException e) {
            String param = path(e);
            String expected = e.getTargetType() == null ? "another type" : describe(e.getTargetType());
            throw ApiException.invalid("Invalid type for '" + param + "': expected " + expected, param);
        } catch (JsonMappingException e) {
            String param = path(e);
            throw ApiException.invalid("Invalid value for '" + param + "': " + shortMessage(e), param);
        } catch (JsonProcessingException e) {
            throw ApiException.invalid("The request body could not be read: " + shortMessage(e), null);
        }
    }

    private void logUnknownFields(JsonNode tree, Class<?> type) throws ApiException {
        Set<String> known = new HashSet<>();
        Set<String> recognised = UnsupportedFields.recognised(type);
        for (RecordComponent c : type.getRecordComponents()) {
            known.add(snake(c.getName()));
        }
        List<String> unknown = new ArrayList<>();
        for (Iterator<String> it = tree.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            // Fields this server recognises but does not implement get their own 400 from UnsupportedFields when
            // set; they are neither "unknown" nor "ignored".
            if (!known.contains(name) && !recognised.contains(name)) {
                unknown.add(name);
            }
        }
        if (!unknown.isEmpty() && rejectUnknownFields) {
            throw ApiException.invalid("Unknown field(s) " + Quote.names(unknown)
                    + " (this server rejects unknown fields)", Quote.clip(unknown.getFirst()));
        }
        if (!unknown.isEmpty()) {
            LOG.warning("The following fields were present in the request but ignored: " + Quote.names(unknown));
        }
    }

    static String snake(String camel) {
        StringBuilder sb = new StringBuilder(camel.length() + 4);
        for (int i = 0; i < camel.length(); i++) {
            char c = camel.charAt(i);
            if (Character.isUpperCase(c)) {
                sb.append('_').append(Character.toLowerCase(c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private static String path(JsonMappingException e) {
        StringBuilder sb = new StringBuilder();
        for (JsonMappingException.Reference ref : e.getPath()) {
            if (ref.getFieldName() != null) {
                if (!sb.isEmpty()) {
                    sb.append('.');
                }
                sb.append(ref.getFieldName());
            } else if (ref.getIndex() >= 0) {
                sb.append('[').append(ref.getIndex()).append(']');
            }
        }
        return sb.isEmpty() ? null : sb.toString();
    }

    private static String describe(Class<?> type) {
        if (type == String.class) return "a string";
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) return "an integer";
        if (type == Double.class || type == double.class) return "a number";
        if (type == Boolean.class || type == boolean.class) return "a boolean";
        if (List.class.isAssignableFrom(type)) return "an array";
        return "an object";
    }

    private static String shortMessage(Exception e) {
        String m = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
        if (m == null) {
            return e.getClass().getSimpleName();
        }
        return m.length() > 200 ? m.substring(0, 200) + "..." : m;
    }
}
