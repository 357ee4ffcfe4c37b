package io.peregrine.api.responses;

import java.util.List;

/** One item of a response's {@code output}: reasoning, an assistant message, or a function call. */
public sealed interface OutputItem {
    String id();

    String type();

    /** Kimi's thinking, as {@code reasoning_text} content; {@code summary} stays empty (no summarizer). */
    record Reasoning(String id, String type, List<SummaryText> summary, List<ReasoningText> content, String status)
            implements OutputItem {
        public Reasoning(String id, List<ReasoningText> content, String status) {
            this(id, "reasoning", List.of(), content, status);
        }
    }

    record Message(String id, String type, String role, String status, List<OutputText> content)
            implements OutputItem {
        public Message(String id, String status, List<OutputText> content) {
            this(id, "message", "assistant", status, content);
        }
    }

    /** @param callId Kimi's canonical {@code functions.NAME:IDX} */
    record FunctionCall(String id, String type, String callId, String name, String arguments, String status)
            implements OutputItem {
        public FunctionCall(String id, String callId, String name, String arguments, String status) {
            this(id, "function_call", callId, name, arguments, status);
        }
    }

    record SummaryText(String type, String text) {}

    record ReasoningText(String type, String text) {
        public ReasoningText(String text) {
            this("reasoning_text", text);
        }
    }

    record OutputText(String type, String text, List<Object> annotations, List<Object> logprobs) {
        public OutputText(String text) {
            this("output_text", text, List.of(), List.of());
        }
    }
}
