package io.peregrine.server.chat;

import io.peregrine.engine.sample.SamplingParams;
import java.util.function.IntFunction;

/**
 * A validated chat request, ready to render and submit.
 *
 * @param sampling     final sampling params once max_tokens is known
 * @param maxTokens    the client's max_completion_tokens / max_tokens, or null (then: the rest of the context)
 * @param topLogprobs  -1 when logprobs were not asked for
 */
public record ChatPlan(
        String model,
        ChatInput input,
        OutputSpec output,
        IntFunction<SamplingParams> sampling,
        Integer maxTokens,
        boolean stream,
        boolean includeUsage,
        int topLogprobs) {}
