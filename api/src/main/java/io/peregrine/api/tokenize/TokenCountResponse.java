package io.peregrine.api.tokenize;

/** Moonshot's {@code POST /v1/tokenizers/estimate-token-count} answer: {@code {"data": {"total_tokens": N}}}. */
public record TokenCountResponse(Data data) {

    public record Data(int totalTokens) {}

    public static TokenCountResponse of(int totalTokens) {
        return new TokenCountResponse(new Data(totalTokens));
    }
}
