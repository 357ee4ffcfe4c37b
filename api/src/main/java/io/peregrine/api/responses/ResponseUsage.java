package io.peregrine.api.responses;

/** Token accounting of one response in the Responses API's names; the details are always present. */
public record ResponseUsage(
        int inputTokens,
        InputTokensDetails inputTokensDetails,
        int outputTokens,
        OutputTokensDetails outputTokensDetails,
        int totalTokens) {

    public record InputTokensDetails(int cachedTokens) {}

    public record OutputTokensDetails(int reasoningTokens) {}

    public static ResponseUsage of(int input, int cached, int output, int reasoning) {
        return new ResponseUsage(input, new InputTokensDetails(cached), output, new OutputTokensDetails(reasoning),
                input + output);
    }
}
