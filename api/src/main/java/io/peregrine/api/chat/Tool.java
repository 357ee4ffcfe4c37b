package io.peregrine.api.chat;

/** A tool offered to the model; only {@code type: "function"} exists. */
public record Tool(String type, FunctionDefinition function) {}
