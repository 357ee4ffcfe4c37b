package io.peregrine.api.anthropic;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A client tool. {@code type} is absent or {@code "custom"}; Anthropic's server tools ({@code web_search_...},
 * {@code bash_...}) carry other types and are refused by the server. {@code cache_control} is accepted and has no
 * effect (prefix caching here is automatic). {@code strict: true} constrains the tool's input to its schema.
 */
public record ToolDefinition(String type, String name, String description, JsonNode inputSchema,
                             JsonNode cacheControl, Boolean strict) {}
