package io.peregrine.api.chat;

import com.fasterxml.jackson.databind.JsonNode;

/** @param parameters a JSON Schema object, passed to the chat template verbatim */
public record FunctionDefinition(String name, String description, JsonNode parameters, Boolean strict) {}
