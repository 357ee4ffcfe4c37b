package io.peregrine.api.anthropic;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * A Messages API reply ({@code type: "message"}), also the {@code message} of a stream's {@code message_start}
 * (then with empty content and a null stop reason). Both stop fields are always written, null or not.
 */
public record MessageResponse(
        String id,
        String type,
        String role,
        String model,
        List<ContentBlock> content,
        @JsonInclude(JsonInclude.Include.ALWAYS) String stopReason,
        @JsonInclude(JsonInclude.Include.ALWAYS) String stopSequence,
        MessageUsage usage) {

    public MessageResponse(String id, String model, List<ContentBlock> content, String stopReason,
                           String stopSequence, MessageUsage usage) {
        this(id, "message", "assistant", model, content, stopReason, stopSequence, usage);
    }

    public MessageResponse {
        content = List.copyOf(content);
    }
}
