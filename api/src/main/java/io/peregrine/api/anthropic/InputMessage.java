package io.peregrine.api.anthropic;

import com.fasterxml.jackson.databind.JsonNode;

/** One turn of the conversation; {@code content} is a string or an array of content blocks. */
public record InputMessage(String role, JsonNode content) {}
