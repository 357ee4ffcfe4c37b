package io.peregrine.api.responses;

/** The answer to {@code POST /v1/responses/input_tokens}: the exact prompt size the request would have. */
public record InputTokens(String object, int inputTokens) {
    public InputTokens(int inputTokens) {
        this("response.input_tokens", inputTokens);
    }
}
