package io.peregrine.api.responses;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A tool of a Responses request. Function tools are flat here ({@code name} next to {@code type}), unlike chat's
 * {@code {"type": "function", "function": {...}}}; other types (web_search, file_search, ...) parse too so the
 * server can name them in its error.
 */
public record ResponseTool(String type, String name, String description, JsonNode parameters, Boolean strict) {}
