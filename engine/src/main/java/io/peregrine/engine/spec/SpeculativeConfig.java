package io.peregrine.engine.spec;

/**
 * Speculative decoding as vLLM's {@code --speculative-config} spells it: the drafting method, how many draft tokens
 * each step verifies, and the method's own settings.
 *
 * @param method              {@code ngram} (the only one so far)
 * @param numSpeculativeTokens k, the draft tokens verified per sequence per step
 * @param promptLookupMin     ngram: shortest suffix matched
 * @param promptLookupMax     ngram: longest suffix matched
 */
public record SpeculativeConfig(String method, int numSpeculativeTokens, int promptLookupMin, int promptLookupMax) {
    /** The most draft tokens a step verifies per sequence. */
    public static final int MAX_SPECULATIVE_TOKENS = 16;

    public SpeculativeConfig {
        if (!"ngram".equals(method)) {
            throw new IllegalArgumentException("speculative method '" + method
                    + "' is not supported (supported: ngram; suffix and eagle3 are not built yet)");
        }
        if (numSpeculativeTokens < 1 || numSpeculativeTokens > MAX_SPECULATIVE_TOKENS) {
            throw new IllegalArgumentException("num_speculative_tokens must be in 1.." + MAX_SPECULATIVE_TOKENS
                    + ", got " + numSpeculativeTokens);
        }
        new NgramDrafter(promptLookupMin, promptLookupMax); // validates the bounds
    }

    public Drafter drafter() {
        return new NgramDrafter(promptLookupMin, promptLookupMax);
    }
}
