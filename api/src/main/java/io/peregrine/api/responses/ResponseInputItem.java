package io.peregrine.api.responses;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One element of a Responses {@code input} array. A single flat record rather than one type per item: the
 * schema is loose (a message's {@code type} may be omitted, content is a string or parts) and the server
 * validates per type with messages that name the offending index.
 *
 * <ul>
 *   <li>message: {@code role}, {@code content} (a string or input_text / input_image / output_text parts)</li>
 *   <li>function_call: {@code call_id}, {@code name}, {@code arguments} (JSON text)</li>
 *   <li>function_call_output: {@code call_id}, {@code output} (a string or input_text parts)</li>
 *   <li>reasoning: {@code summary} and/or {@code content} (arrays of {@code {type, text}})</li>
 * </ul>
 */
public record ResponseInputItem(
        String type,
        String id,
        String role,
        JsonNode content,
        String status,
        String callId,
        String name,
        JsonNode arguments,
        JsonNode output,
        JsonNode summary,
        String encryptedContent) {}
