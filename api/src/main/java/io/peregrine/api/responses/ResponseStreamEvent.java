package io.peregrine.api.responses;

import java.util.List;

/**
 * The server-sent events of a streamed response, each with the {@code type} that names it and a
 * {@code sequence_number} counting from 0 within the stream.
 */
public sealed interface ResponseStreamEvent {
    String type();

    int sequenceNumber();

    /** response.created, response.in_progress, response.completed, response.incomplete, response.failed */
    record Lifecycle(String type, int sequenceNumber, Response response) implements ResponseStreamEvent {}

    /** response.output_item.added / .done */
    record Item(String type, int sequenceNumber, int outputIndex, OutputItem item) implements ResponseStreamEvent {}

    /** response.content_part.added / .done; {@code part} is an output_text or a reasoning_text */
    record ContentPart(String type, int sequenceNumber, String itemId, int outputIndex, int contentIndex, Object part)
            implements ResponseStreamEvent {}

    /** response.output_text.delta */
    record TextDelta(String type, int sequenceNumber, String itemId, int outputIndex, int contentIndex, String delta,
                     List<Object> logprobs) implements ResponseStreamEvent {}

    /** response.output_text.done */
    record TextDone(String type, int sequenceNumber, String itemId, int outputIndex, int contentIndex, String text,
                    List<Object> logprobs) implements ResponseStreamEvent {}

    /** response.reasoning_text.delta */
    record ReasoningDelta(String type, int sequenceNumber, String itemId, int outputIndex, int contentIndex,
                          String delta) implements ResponseStreamEvent {}

    /** response.reasoning_text.done */
    record ReasoningDone(String type, int sequenceNumber, String itemId, int outputIndex, int contentIndex,
                         String text) implements ResponseStreamEvent {}

    /** response.function_call_arguments.delta */
    record ArgumentsDelta(String type, int sequenceNumber, String itemId, int outputIndex, String delta)
            implements ResponseStreamEvent {}

    /** response.function_call_arguments.done */
    record ArgumentsDone(String type, int sequenceNumber, String itemId, int outputIndex, String name,
                         String arguments) implements ResponseStreamEvent {}
}
