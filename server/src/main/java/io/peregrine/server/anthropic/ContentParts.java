package io.peregrine.server.anthropic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peregrine.server.http.ApiException;

/**
 * Anthropic content blocks as the chat pipeline's content parts (text parts, {@code image_url} parts, {@code file}
 * parts), so images and PDFs go through the same fetch policy, decoding and limits as chat's.
 */
final class ContentParts {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private ContentParts() {}

    /**
     * A document block: a PDF (base64 or url, rendered page by page as chat's file parts are), plain text, or
     * content blocks. Its title and context are not rendered: the template has no place for them.
     */
    static void document(JsonNode b, String at, ArrayNode parts) throws ApiException {
        JsonNode source = b.path("source");
        String sat = at + ".source";
        switch (source.path("type").asText("")) {
            case "base64" -> {
                if (!"application/pdf".equals(source.path("media_type").asText()) || !source.path("data").isTextual()) {
                    throw ApiException.invalid(sat + " must be a PDF: media_type 'application/pdf' and base64 'data'",
                            sat + ".media_type");
                }
                ObjectNode part = NODES.objectNode();
                part.put("type", "file");
                part.putObject("file").put("file_data", "data:application/pdf;base64," + source.path("data").textValue());
                parts.add(part);
            }
            case "url" -> {
                if (!source.path("url").isTextual()) {
                    throw ApiException.invalid(sat + ".url must be a string", sat + ".url");
                }
                ObjectNode part = NODES.objectNode();
                part.put("type", "image_url"); // fetched under the media policy; a PDF is recognised by its bytes
                part.putObject("image_url").put("url", source.path("url").textValue());
                parts.add(part);
            }
            case "text" -> {
                if (!source.path("data").isTextual()) {
                    throw ApiException.invalid(sat + ".data must be a string", sat + ".data");
                }
                parts.add(text(source.path("data").textValue()));
            }
            case "content" -> {
                JsonNode content = source.path("content");
                if (content.isTextual()) {
                    parts.add(text(content.textValue()));
                    return;
                }
                if (!content.isArray()) {
                    throw ApiException.invalid(sat + ".content must be a string or an array of blocks", sat + ".content");
                }
                for (int k = 0; k < content.size(); k++) {
                    JsonNode p = content.get(k);
                    String pat = sat + ".content[" + k + "]";
                    switch (p.path("type").asText("")) {
                        case "text" -> parts.add(text(string(p, pat)));
                        case "image" -> parts.add(image(p, pat));
                        default -> throw ApiException.invalid(pat + ".type must be 'text' or 'image'", pat + ".type");
                    }
                }
            }
            case "file" -> throw ApiException.unsupported(sat + ": file ids (the Files API) are not supported",
                    sat + ".type");
            default -> throw ApiException.invalid(sat + ".type must be 'base64', 'url', 'text' or 'content'",
                    sat + ".type");
        }
    }

    /** An image block as the chat pipeline's image part: base64 as a data URL, a url as is (same fetch policy). */
    static ObjectNode image(JsonNode b, String at) throws ApiException {
        JsonNode source = b.path("source");
        String url = switch (source.path("type").asText("")) {
            case "base64" -> {
                if (!source.path("media_type").isTextual() || !source.path("data").isTextual()) {
                    throw ApiException.invalid(at + ".source needs a 'media_type' and base64 'data'", at + ".source");
                }
                yield "data:" + source.path("media_type").textValue() + ";base64," + source.path("data").textValue();
            }
            case "url" -> {
                if (!source.path("url").isTextual()) {
                    throw ApiException.invalid(at + ".source.url must be a string", at + ".source.url");
                }
                yield source.path("url").textValue();
            }
            case "file" -> throw ApiException.unsupported(at + ".source: file ids (the Files API) are not supported",
                    at + ".source.type");
            default -> throw ApiException.invalid(at + ".source.type must be 'base64' or 'url'", at + ".source.type");
        };
        ObjectNode part = NODES.objectNode();
        part.put("type", "image_url");
        part.putObject("image_url").put("url", url);
        return part;
    }

    static String string(JsonNode b, String at) throws ApiException {
        if (!b.path("text").isTextual()) {
            throw ApiException.invalid(at + ".text must be a string", at + ".text");
        }
        return b.path("text").textValue();
    }

    static ObjectNode text(String text) {
        ObjectNode part = NODES.objectNode();
        part.put("type", "text");
        part.put("text", text);
        return part;
    }
}
