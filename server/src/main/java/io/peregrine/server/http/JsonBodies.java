package io.peregrine.server.http;

import com.fasterxml.jackson.core.StreamReadConstraints;
import io.peregrine.api.json.Json;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
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
    /** Trailing data is checked by hand, so that its error names no Jackson feature. */
    private final ObjectReader treeReader;
    private final boolean rejectUnknownFields;
    private final Map<Class<? extends Record>, Set<String>> recognised;

    /**
     * @param recognised by request type, the fields an API recognises without implementing them (each gets its
     *                   own 400 when set): neither unknown nor ignored
     */
    public JsonBodies(ObjectMapper mapper, boolean rejectUnknownFields,
                      Map<Class<? extends Record>, Set<String>> recognised) {
        this.mapper = mapper;
        this.treeReader = mapper.reader().without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        this.rejectUnknownFields = rejectUnknownFields;
        this.recognised = Map.copyOf(recognised);
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
        try (JsonParser parser = mapper.createParser(body)) {
            tree = treeReader.readTree(parser);
            if (parser.nextToken() != null) {
                throw ApiException.invalid("The request body has more data after its JSON object", null);
            }
        } catch (JsonProcessingException e) {
            throw JsonErrors.unreadable(e, mapper.getFactory().streamReadConstraints());
        } catch (IOException e) {
            throw ApiException.invalid("The request body could not be read", null);
        }
        if (tree == null || !tree.isObject()) {
            throw ApiException.invalid("The request body must be a JSON object", null);
        }
        logUnknownFields(tree, type);
        try {
            return new Parsed<>(mapper.treeToValue(tree, type), tree);
        } catch (JsonMappingException e) {
            throw JsonErrors.mismatch(e, null);
        } catch (JsonProcessingException e) {
            throw JsonErrors.unreadable(e, mapper.getFactory().streamReadConstraints());
        }
    }

    private void logUnknownFields(JsonNode tree, Class<? extends Record> type) throws ApiException {
        Set<String> known = new HashSet<>();
        Set<String> recognised = this.recognised.getOrDefault(type, Set.of());
        for (RecordComponent c : type.getRecordComponents()) {
            known.add(snake(c.getName()));
        }
        List<String> unknown = new ArrayList<>();
        for (Iterator<String> it = tree.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            // Fields this server recognises but does not implement get their own 400 when set; they are neither
            // "unknown" nor "ignored".
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

    /**
     * The wire mapper with the parser's string limit (Jackson's default is 20 million characters) set to the body
     * limit: a string cannot be longer than the body that carries it, so the configured limits
     * ({@code --max-request-body-bytes}, and {@code --max-media-bytes} for what a data URL decodes to) are the
     * only caps a client meets.
     */
    public static ObjectMapper requestMapper(int maxBodyBytes) {
        ObjectMapper mapper = Json.newMapper();
        mapper.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxStringLength(maxBodyBytes).build());
        return mapper;
    }
}
