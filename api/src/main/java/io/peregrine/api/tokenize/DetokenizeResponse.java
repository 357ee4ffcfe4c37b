package io.peregrine.api.tokenize;

public record DetokenizeResponse(String prompt) {}
