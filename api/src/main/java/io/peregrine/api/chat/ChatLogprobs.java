package io.peregrine.api.chat;

import java.util.List;

/** {@code choices[].logprobs} of the chat API. */
public record ChatLogprobs(List<Entry> content) {

    /** @param bytes the token's UTF-8 bytes (a token may be part of a character) */
    public record Entry(String token, double logprob, List<Integer> bytes, List<Top> topLogprobs) {}

    public record Top(String token, double logprob, List<Integer> bytes) {}
}
