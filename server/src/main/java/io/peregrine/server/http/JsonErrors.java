package io.peregrine.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A Jackson failure in the API's words: which field, and what it should have been. Jackson's own messages name
 * its classes, features and configuration methods ({@code CoercionConfig}, {@code FAIL_ON_TRAILING_TOKENS},
 * {@code StreamReadConstraints.getMaxNestingDepth()}), which mean nothing to a client.
 */
public final class JsonErrors {
    /** Jackson's location suffix ("(start marker at [Source: ...; line: 1, column: 1])") and anything quoted in backticks. */
    private static final Pattern SOURCE = Pattern.compile("\\s*\\((?:start marker at )?\\[Source:.*?\\]\\)|\\s*\\[Source:.*?\\]");
    private static final Pattern INTERNALS = Pattern.compile("`[^`]*`");

    private JsonErrors() {}

    /** The body could not be parsed as JSON at all (syntax, or one of the parser's size limits). */
    static ApiException unreadable(JsonProcessingException e, StreamReadConstraints limits) {
        if (e instanceof StreamConstraintsException) {
            return ApiException.invalid(limit(e.getOriginalMessage(), limits), null);
        }
        return ApiException.invalid("The request body is not valid JSON: " + clean(e.getOriginalMessage()), null);
    }

    /**
     * A well-formed value that does not fit the request's shape; {@code prefix} is where the value sits in the
     * request ({@code input[2]}), null for the whole body.
     */
    public static ApiException mismatch(JsonMappingException e, String prefix) {
        String param = path(e, prefix);
        String where = param == null ? "the request body" : "'" + param + "'";
        if (e instanceof MismatchedInputException m && m.getTargetType() != null) {
            return ApiException.invalid("Invalid type for " + where + ": expected " + describe(m.getTargetType()), param);
        }
        if (e instanceof ValueInstantiationException v && v.getCause() instanceof IllegalArgumentException iae
                && iae.getMessage() != null) {
            return ApiException.invalid("Invalid value for " + where + ": " + Quote.clip(iae.getMessage()), param);
        }
        return ApiException.invalid("Invalid value for " + where + ": " + clean(e.getOriginalMessage()), param);
    }

    private static String limit(String message, StreamReadConstraints limits) {
        String m = message == null ? "" : message;
        if (m.startsWith("String value length") || m.startsWith("Name length")) {
            return "A string in the request body is longer than " + limits.getMaxStringLength()
                    + " characters, the most this server accepts (see --max-request-body-bytes)";
        }
        if (m.startsWith("Number value length")) {
            return "A number in the request body has more than " + limits.getMaxNumberLength() + " digits";
        }
        if (m.startsWith("Document nesting depth")) {
            return "The request body is nested more than " + limits.getMaxNestingDepth() + " levels deep";
        }
        return "The request body is too large or too complex to read";
    }

    /** Jackson's text without its source location and without anything it quotes in backticks (Java names). */
    static String clean(String message) {
        if (message == null || message.isBlank()) {
            return "malformed JSON";
        }
        String m = SOURCE.matcher(message).replaceAll("");
        m = INTERNALS.matcher(m).replaceAll("a value");
        return Quote.clip(m.strip());
    }

    private static String path(JsonMappingException e, String prefix) {
        StringBuilder sb = new StringBuilder(prefix == null ? "" : prefix);
        List<JsonMappingException.Reference> refs = e.getPath();
        for (JsonMappingException.Reference ref : refs) {
            if (ref.getFieldName() != null) {
                if (!sb.isEmpty()) {
                    sb.append('.');
                }
                sb.append(Quote.clip(ref.getFieldName()));
            } else if (ref.getIndex() >= 0) {
                sb.append('[').append(ref.getIndex()).append(']');
            }
        }
        return sb.isEmpty() ? null : sb.toString();
    }

    private static String describe(Class<?> type) {
        if (type == String.class) return "a string";
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) return "an integer";
        if (type == Double.class || type == double.class || type == Float.class || type == float.class) return "a number";
        if (type == Boolean.class || type == boolean.class) return "a boolean";
        if (List.class.isAssignableFrom(type) || type.isArray()) return "an array";
        return "an object";
    }
}
