package io.peregrine.api.error;

/** {@code {"error": {"message", "type", "param", "code"}}}. */
public record ErrorResponse(ErrorBody error) {}
