package io.peregrine.server.chat;

import io.peregrine.server.prompt.ChatInput;
import io.peregrine.server.prompt.OutputSpec;
import io.peregrine.server.sampling.SamplingSettings;

/**
 * A validated chat-shaped request (chat completions, Responses, Anthropic Messages), ready to render and submit.
 *
 * @param sampling       null for a request that only counts tokens
 * @param maxTokens      the client's max-tokens value, or null (then: the rest of the context)
 * @param maxTokensField the client's name for it, for the error when the prompt leaves no room for it
 * @param topLogprobs    -1 when logprobs were not asked for
 */
public record ChatPlan(
        String model,
        ChatInput input,
        OutputSpec output,
        SamplingSettings sampling,
        Integer maxTokens,
        String maxTokensField,
        boolean stream,
        boolean includeUsage,
        int topLogprobs) {}
