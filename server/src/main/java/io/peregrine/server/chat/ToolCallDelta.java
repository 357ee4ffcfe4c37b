package io.peregrine.server.chat;

/**
 * A piece of one tool call. The first piece of a call carries its {@code id} and {@code name}; later pieces
 * carry only more {@code arguments} text. Indexes count from 0 within the choice.
 */
public record ToolCallDelta(int index, String id, String name, String arguments) {}
