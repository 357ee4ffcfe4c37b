package io.peregrine.engine.sample;

import java.util.List;

/** The chosen token's log-probability and the top alternatives at that step (most likely first). */
public record TokenLogprob(int tokenId, float logprob, List<Alternative> top) {
    public record Alternative(int tokenId, float logprob) {}

    public TokenLogprob {
        top = List.copyOf(top);
    }
}
