package io.peregrine.server.chat;

import io.peregrine.engine.runtime.TokenConstraint;

/**
 * Renders a conversation with the model's chat template and tokenizes it. Implemented over the engine's
 * template renderer and tokenizer; thread-safe (called from request threads concurrently).
 */
public interface ChatPromptBuilder {

    /** @throws InvalidPromptException when the conversation cannot be rendered (becomes a 400) */
    ChatPrompt build(ChatInput input) throws InvalidPromptException;

    /**
     * The prompt to generate from, with what the output must obey ({@code tool_choice} {@code required} or a
     * named function constrain sampling). {@link #build(ChatInput)} alone is for counting tokens.
     */
    default ChatPrompt build(ChatInput input, OutputSpec output) throws InvalidPromptException {
        return build(input);
    }

    /**
     * What caps a thinking-mode choice's reasoning at {@code budgetTokens} tokens (then the answer is forced to
     * start), or null when this model's prompts cannot be given a budget (the caller must then refuse one).
     */
    default TokenConstraint.Factory thinkingBudget(int budgetTokens) {
        return null;
    }
}
