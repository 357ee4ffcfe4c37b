package io.peregrine.server.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.peregrine.api.json.Json;

/**
 * JSON bodies for the generation endpoints, shaped as vLLM's benchmark sends them: chat asks with
 * {@code max_completion_tokens}, completions with {@code max_tokens}; streams ask for usage in the last chunk.
 */
public final class RequestBodies {
    private final ObjectMapper json = Json.newMapper();
    private final BenchOptions options;

    public RequestBodies(BenchOptions options) {
        this.options = options;
    }

    public String body(BenchPrompt prompt, int index) {
        ObjectNode body = json.createObjectNode();
        body.put("model", options.model());
        if (options.endpoint() == Endpoint.CHAT) {
            ObjectNode message = body.putArray("messages").addObject().put("role", "user");
            if (options.imagesPerRequest() == 0) {
                message.put("content", prompt.text());
            } else {
                ArrayNode parts = message.putArray("content");
                parts.addObject().put("type", "text").put("text", prompt.text());
                for (int i = 0; i < options.imagesPerRequest(); i++) {
                    long seed = options.seed() * 1_000_003L + (long) index * 64 + i;
                    parts.addObject().put("type", "image_url").putObject("image_url")
                            .put("url", GeneratedImages.pngDataUrl(options.imageSize(), options.imageSize(), seed));
                }
            }
            body.put("max_completion_tokens", prompt.maxTokens());
        } else {
            body.put("prompt", prompt.text());
            body.put("max_tokens", prompt.maxTokens());
        }
        body.put("stream", options.stream());
        if (options.stream()) {
            body.putObject("stream_options").put("include_usage", true);
        }
        if (options.ignoreEos()) {
            body.put("ignore_eos", true);
        }
        return body.toString();
    }
}
