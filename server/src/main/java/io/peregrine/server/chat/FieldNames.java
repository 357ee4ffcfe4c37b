package io.peregrine.server.chat;

import java.util.function.IntFunction;

/**
 * How one chat-shaped API spells the fields that {@link PlanBuilder} checks for every API, so that a 400 from a
 * shared check names the field that API's client sent.
 *
 * @param conversation the field holding the conversation as a whole ({@code messages}; the Responses API's
 *                     {@code input}), for limits on the whole of it
 * @param toolName     where tool i's name sits ({@code tools[i].function.name}; {@code tools[i].name})
 * @param toolSchema   where tool i's parameter schema sits ({@code tools[i].function.parameters};
 *                     {@code tools[i].parameters}; Anthropic's {@code tools[i].input_schema})
 */
public record FieldNames(String conversation, IntFunction<String> toolName, IntFunction<String> toolSchema) {

    /** Chat completions' names, which {@code /tokenize} and the token count estimate share. */
    public static final FieldNames CHAT = new FieldNames("messages", i -> "tools[" + i + "].function.name",
            i -> "tools[" + i + "].function.parameters");
}
