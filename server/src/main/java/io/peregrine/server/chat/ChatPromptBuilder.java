package io.peregrine.server.chat;

/**
 * Renders a conversation with the model's chat template and tokenizes it. Implemented over the engine's
 * template renderer and tokenizer; thread-safe (called from request threads concurrently).
 */
public interface ChatPromptBuilder {

    /** @throws InvalidPromptException when the conversation cannot be rendered (becomes a 400) */
    ChatPrompt build(ChatInput input) throws InvalidPromptException;
}
