package io.peregrine.server.prompt;


/**
 * Renders a conversation with the model's chat template and tokenizes it. Implemented over the engine's
 * template renderer and tokenizer; thread-safe (called from request threads concurrently).
 */
public interface ChatPromptBuilder {

    /** @throws InvalidPromptException when the conversation cannot be rendered (becomes a 400) */
    ChatPrompt build(ChatInput input) throws InvalidPromptException;

    /**
     * The prompt to generate from, with what the output must obey (tool calls, response_format, a thinking
     * budget constrain sampling). {@link #build(ChatInput)} alone is for counting tokens. No default: a builder
     * that dropped {@code output} would accept response_format, strict tools and budgets and honour none of them.
     */
    ChatPrompt build(ChatInput input, OutputSpec output) throws InvalidPromptException;
}
