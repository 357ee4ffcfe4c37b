package io.peregrine.api.error;

import com.fasterxml.jackson.annotation.JsonInclude;

/** The inside of an OpenAI error envelope. All four keys are always written, null or not, as OpenAI does. */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record ErrorBody(String message, String type, String param, String code) {}
