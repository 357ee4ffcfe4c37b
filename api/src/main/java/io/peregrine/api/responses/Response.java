package io.peregrine.api.responses;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * A Responses API response object, as returned whole, carried by the lifecycle stream events, and kept by the
 * store. The request's settings are echoed back as OpenAI does; the nullable ones OpenAI always sends are sent as
 * null rather than left out.
 *
 * @param status completed, incomplete, in_progress or failed
 */
public record Response(
        String id,
        String object,
        long createdAt,
        String status,
        @JsonInclude(JsonInclude.Include.ALWAYS) ResponseError error,
        @JsonInclude(JsonInclude.Include.ALWAYS) IncompleteDetails incompleteDetails,
        @JsonInclude(JsonInclude.Include.ALWAYS) String instructions,
        @JsonInclude(JsonInclude.Include.ALWAYS) Integer maxOutputTokens,
        String model,
        List<OutputItem> output,
        boolean parallelToolCalls,
        @JsonInclude(JsonInclude.Include.ALWAYS) String previousResponseId,
        @JsonInclude(JsonInclude.Include.ALWAYS) ResponseCreateRequest.ReasoningConfig reasoning,
        boolean store,
        @JsonInclude(JsonInclude.Include.ALWAYS) Double temperature,
        ResponseCreateRequest.TextConfig text,
        JsonNode toolChoice,
        List<ResponseTool> tools,
        @JsonInclude(JsonInclude.Include.ALWAYS) Double topP,
        String truncation,
        @JsonInclude(JsonInclude.Include.ALWAYS) ResponseUsage usage,
        @JsonInclude(JsonInclude.Include.ALWAYS) String user,
        JsonNode metadata) {

    /** @param reason max_output_tokens, or timeout when the server's request deadline passed */
    public record IncompleteDetails(String reason) {}

    public record ResponseError(String code, String message) {}

    /** This response in another state, with other output and usage (streaming sends it as it grows). */
    public Response with(String newStatus, List<OutputItem> newOutput, ResponseUsage newUsage,
                         IncompleteDetails incomplete, ResponseError newError) {
        return new Response(id, object, createdAt, newStatus, newError, incomplete, instructions, maxOutputTokens,
                model, newOutput, parallelToolCalls, previousResponseId, reasoning, store, temperature, text,
                toolChoice, tools, topP, truncation, newUsage, user, metadata);
    }
}
