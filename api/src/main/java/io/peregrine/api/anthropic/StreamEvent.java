package io.peregrine.api.anthropic;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The events of a streamed Messages API reply, each sent as SSE {@code event: <type>} with the JSON as data:
 * {@code message_start}, per block {@code content_block_start}, {@code content_block_delta}s and
 * {@code content_block_stop}, then {@code message_delta} (stop reason, usage) and {@code message_stop}.
 * {@code ping} keeps an idle stream alive; {@code error} ends a stream that cannot continue.
 */
public sealed interface StreamEvent {
    String type();

    record MessageStart(String type, MessageResponse message) implements StreamEvent {
        public MessageStart(MessageResponse message) {
            this("message_start", message);
        }
    }

    record ContentBlockStart(String type, int index, ContentBlock contentBlock) implements StreamEvent {
        public ContentBlockStart(int index, ContentBlock block) {
            this("content_block_start", index, block);
        }
    }

    record ContentBlockDelta(String type, int index, BlockDelta delta) implements StreamEvent {
        public ContentBlockDelta(int index, BlockDelta delta) {
            this("content_block_delta", index, delta);
        }
    }

    record ContentBlockStop(String type, int index) implements StreamEvent {
        public ContentBlockStop(int index) {
            this("content_block_stop", index);
        }
    }

    /** Both stop fields are always written, null or not. */
    record StopDelta(@JsonInclude(JsonInclude.Include.ALWAYS) String stopReason,
                     @JsonInclude(JsonInclude.Include.ALWAYS) String stopSequence) {}

    record MessageDelta(String type, StopDelta delta, MessageUsage usage) implements StreamEvent {
        public MessageDelta(StopDelta delta, MessageUsage usage) {
            this("message_delta", delta, usage);
        }
    }

    record MessageStop(String type) implements StreamEvent {
        public MessageStop() {
            this("message_stop");
        }
    }

    record Ping(String type) implements StreamEvent {
        public Ping() {
            this("ping");
        }
    }
}
