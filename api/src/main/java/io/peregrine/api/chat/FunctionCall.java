package io.peregrine.api.chat;

/** @param arguments JSON text, or a fragment of it in a streamed delta */
public record FunctionCall(String name, String arguments) {}
