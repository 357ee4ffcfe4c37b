package io.peregrine.api.anthropic;

/** What a {@code content_block_delta} adds to its block. */
public sealed interface BlockDelta {
    String type();

    record TextDelta(String type, String text) implements BlockDelta {
        public TextDelta(String text) {
            this("text_delta", text);
        }
    }

    record ThinkingDelta(String type, String thinking) implements BlockDelta {
        public ThinkingDelta(String thinking) {
            this("thinking_delta", thinking);
        }
    }

    record SignatureDelta(String type, String signature) implements BlockDelta {
        public SignatureDelta(String signature) {
            this("signature_delta", signature);
        }
    }

    /** A piece of a tool call's input as JSON text; the pieces of one block concatenate to a JSON object. */
    record InputJsonDelta(String type, String partialJson) implements BlockDelta {
        public InputJsonDelta(String partialJson) {
            this("input_json_delta", partialJson);
        }
    }
}
