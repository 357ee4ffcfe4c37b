package io.peregrine.api.anthropic;

/**
 * Anthropic's token accounting. As in Anthropic's API, {@code input_tokens} counts only the prompt tokens that
 * were not read from the prefix cache; the whole prompt is {@code input_tokens + cache_read_input_tokens +
 * cache_creation_input_tokens}.
 */
public record MessageUsage(int inputTokens, int outputTokens, int cacheCreationInputTokens,
                           int cacheReadInputTokens) {}
