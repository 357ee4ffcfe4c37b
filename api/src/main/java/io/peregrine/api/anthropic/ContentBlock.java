package io.peregrine.api.anthropic;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;

/** A block of the assistant's reply: text, thinking or a tool call, in the order the model produced them. */
public sealed interface ContentBlock {
    String type();

    record Text(String type, String text) implements ContentBlock {
        public Text(String text) {
            this("text", text);
        }
    }

    /** {@code signature} is always written: Anthropic clients send it back with the block. */
    record Thinking(String type, String thinking, @JsonInclude(JsonInclude.Include.ALWAYS) String signature)
            implements ContentBlock {
        public Thinking(String thinking, String signature) {
            this("thinking", thinking, signature);
        }
    }

    /** @param input the call's arguments: always a JSON object */
    record ToolUse(String type, String id, String name, JsonNode input) implements ContentBlock {
        public ToolUse(String id, String name, JsonNode input) {
            this("tool_use", id, name, input);
        }
    }
}
