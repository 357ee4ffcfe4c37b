package io.peregrine.engine.sample;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * What the penalties of one choice look at: which tokens appeared in prompt or output (repetition penalty,
 * as in HF/vLLM) and how often each appeared in the output (presence and frequency penalties, as in OpenAI).
 */
public final class PenaltyState implements io.peregrine.engine.backend.TokenCounts {
    private final BitSet seen = new BitSet();
    private final Map<Integer, Integer> outputCounts = new HashMap<>();

    public PenaltyState(int[] prompt, int promptLength) {
        for (int i = 0; i < promptLength; i++) {
            seen.set(prompt[i]);
        }
    }

    @Override
    public PenaltyState copy() {
        PenaltyState c = new PenaltyState(new int[0], 0);
        c.seen.or(seen);
        c.outputCounts.putAll(outputCounts);
        return c;
    }

    @Override
    public PenaltyState copyWith(int[] tokens, int from, int to) {
        PenaltyState c = copy();
        for (int i = from; i < to; i++) {
            c.accept(tokens[i]);
        }
        return c;
    }

    public void accept(int token) {
        seen.set(token);
        outputCounts.merge(token, 1, Integer::sum);
    }

    BitSet seen() {
        return seen;
    }

    Map<Integer, Integer> outputCounts() {
        return outputCounts;
    }
}
