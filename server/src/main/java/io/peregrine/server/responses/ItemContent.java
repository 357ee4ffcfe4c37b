package io.peregrine.server.responses;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peregrine.api.responses.ResponseInputItem;
import io.peregrine.server.http.ApiException;
import io.peregrine.server.http.Quote;

/**
 * The content of Responses input items in chat's terms: a message's parts as chat content parts, an assistant
 * message's, a reasoning item's and a function_call_output's parts as plain text. {@link InputItems} decides which
 * message each item becomes; this decides what it says.
 */
final class ItemContent {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private ItemContent() {}

    /** A user/system/developer message's content as chat content: a string, or chat parts. */
    static JsonNode chatContent(JsonNode content, String at) throws ApiException {
        if (content.isTextual()) {
            return content;
        }
        if (!content.isArray()) {
            throw ApiException.invalid(at + " must be a string or an array of content parts", at);
        }
        ArrayNode parts = NODES.arrayNode();
        for (int j = 0; j < content.size(); j++) {
            JsonNode part = content.get(j);
            String pat = at + "[" + j + "]";
            String type = part.path("type").asText("");
            switch (type) {
                case "input_text", "output_text" -> parts.add(NODES.objectNode().put("type", "text")
                        .put("text", text(part, pat)));
                case "input_image" -> {
                    if (part.hasNonNull("file_id")) {
                        throw ApiException.unsupported("input_image.file_id is not supported (there is no Files API); "
                                + "send image_url as a data: URL or an http(s) URL", pat + ".file_id");
                    }
                    JsonNode url = part.get("image_url");
                    if (url == null || !url.isTextual()) {
                        throw ApiException.invalid(pat + ".image_url must be a string URL", pat + ".image_url");
                    }
                    ObjectNode image = NODES.objectNode().put("url", url.textValue());
                    if (part.hasNonNull("detail")) {
                        image.set("detail", part.get("detail"));
                    }
                    parts.add(NODES.objectNode().put("type", "image_url").set("image_url", image));
                }
                case "input_file" -> {
                    if (part.hasNonNull("file_id") || part.hasNonNull("file_url")) {
                        String field = part.hasNonNull("file_id") ? "file_id" : "file_url";
                        throw ApiException.unsupported("input_file." + field + " is not supported; send file_data",
                                pat + "." + field);
                    }
                    ObjectNode file = NODES.objectNode();
                    file.set("file_data", part.get("file_data"));
                    if (part.hasNonNull("filename")) {
                        file.set("filename", part.get("filename"));
                    }
                    parts.add(NODES.objectNode().put("type", "file").set("file", file));
                }
                case "input_audio" -> throw ApiException.unsupported("input_audio parts are not supported",
                        pat + ".type");
                default -> throw ApiException.invalid(pat + ".type must be input_text, input_image or input_file, got '"
                        + Quote.clip(type) + "'", pat + ".type");
            }
        }
        return parts;
    }

    /** An assistant message's text: a string, or output_text / input_text / refusal parts joined. */
    static String assistantText(JsonNode content, String at) throws ApiException {
        if (content.isTextual()) {
            return content.textValue();
        }
        if (!content.isArray()) {
            throw ApiException.invalid(at + " must be a string or an array of content parts", at);
        }
        StringBuilder sb = new StringBuilder();
        for (int j = 0; j < content.size(); j++) {
            JsonNode part = content.get(j);
            String pat = at + "[" + j + "]";
            switch (part.path("type").asText("")) {
                case "output_text", "input_text" -> sb.append(text(part, pat));
                case "refusal" -> {
                    JsonNode r = part.get("refusal");
                    if (r == null || !r.isTextual()) {
                        throw ApiException.invalid(pat + ".refusal must be a string", pat + ".refusal");
                    }
                    sb.append(r.textValue());
                }
                default -> throw ApiException.invalid(pat + ".type must be output_text or refusal in an assistant "
                        + "message, got '" + Quote.clip(part.path("type").asText("")) + "'", pat + ".type");
            }
        }
        return sb.toString();
    }

    /** A reasoning item's text: its reasoning_text content, else its summary (what the client kept). */
    static String reasoningText(ResponseInputItem item, String at) throws ApiException {
        String content = joined(item.content(), at + ".content");
        return content.isEmpty() ? joined(item.summary(), at + ".summary") : content;
    }

    private static String joined(JsonNode parts, String at) throws ApiException {
        if (parts == null || parts.isNull()) {
            return "";
        }
        if (!parts.isArray()) {
            throw ApiException.invalid(at + " must be an array of {type, text} parts", at);
        }
        StringBuilder sb = new StringBuilder();
        for (int j = 0; j < parts.size(); j++) {
            if (!sb.isEmpty()) {
                sb.append("\n\n");
            }
            sb.append(text(parts.get(j), at + "[" + j + "]"));
        }
        return sb.toString();
    }

    /** A function_call_output's output: a string, or input_text parts joined. */
    static String toolOutput(JsonNode output, String at) throws ApiException {
        if (output == null || output.isNull()) {
            throw ApiException.invalid(at + " is required", at);
        }
        if (output.isTextual()) {
            return output.textValue();
        }
        if (!output.isArray()) {
            throw ApiException.invalid(at + " must be a string or an array of input_text parts", at);
        }
        StringBuilder sb = new StringBuilder();
        for (int j = 0; j < output.size(); j++) {
            JsonNode part = output.get(j);
            String pat = at + "[" + j + "]";
            if (!"input_text".equals(part.path("type").asText(""))) {
                throw ApiException.unsupported("only input_text parts are supported in a function_call_output, got '"
                        + Quote.clip(part.path("type").asText("")) + "'", pat + ".type");
            }
            sb.append(text(part, pat));
        }
        return sb.toString();
    }

    private static String text(JsonNode part, String at) throws ApiException {
        JsonNode t = part.get("text");
        if (t == null || !t.isTextual()) {
            throw ApiException.invalid(at + ".text must be a string", at + ".text");
        }
        return t.textValue();
    }
}
