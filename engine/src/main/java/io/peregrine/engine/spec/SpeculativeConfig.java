package io.peregrine.engine.spec;

/**
 * Speculative decoding as vLLM's {@code --speculative-config} spells it: how many draft tokens each step verifies per
 * sequence, and the drafting method with its own settings.
 *
 * @param numSpeculativeTokens k, the most draft tokens verified per sequence per step
 * @param method               the drafter and its settings
 */
public record SpeculativeConfig(int numSpeculativeTokens, Method method) {
    /** The most draft tokens a step verifies per sequence. */
    public static final int MAX_SPECULATIVE_TOKENS = 16;

    public SpeculativeConfig {
        java.util.Objects.requireNonNull(method, "method");
        if (numSpeculativeTokens < 1 || numSpeculativeTokens > MAX_SPECULATIVE_TOKENS) {
            throw new IllegalArgumentException("num_speculative_tokens must be in 1.." + MAX_SPECULATIVE_TOKENS
                    + ", got " + numSpeculativeTokens);
        }
    }

    /** vLLM's {@code ngram} method with {@code prompt_lookup_min} and {@code prompt_lookup_max}. */
    public static SpeculativeConfig ngram(int k, int promptLookupMin, int promptLookupMax) {
        return new SpeculativeConfig(k, new Ngram(promptLookupMin, promptLookupMax));
    }

    /** vLLM's {@code suffix} method with its defaults. */
    public static SpeculativeConfig suffix(int k) {
        return new SpeculativeConfig(k, Suffix.DEFAULTS);
    }

    /** A new drafter of the configured method (one per engine: a suffix drafter's cache is the engine's). */
    public Drafter drafter() {
        return switch (method) {
            case Ngram n -> new NgramDrafter(n.promptLookupMin(), n.promptLookupMax());
            case Suffix s -> new SuffixDrafter(s);
        };
    }

    /** A drafting method and its settings, as the {@code method} field names it. */
    public sealed interface Method permits Ngram, Suffix {
        /** The name vLLM gives it in {@code method}. */
        String name();
    }

    /**
     * Prompt lookup: the longest suffix of {@code promptLookupMin .. promptLookupMax} tokens found earlier in the
     * sequence drafts what followed it.
     */
    public record Ngram(int promptLookupMin, int promptLookupMax) implements Method {
        public Ngram {
            if (promptLookupMin < 1 || promptLookupMax < promptLookupMin) {
                throw new IllegalArgumentException("prompt_lookup_min must be >= 1 and <= prompt_lookup_max, got "
                        + promptLookupMin + " and " + promptLookupMax);
            }
        }

        @Override
        public String name() {
            return "ngram";
        }
    }

    /**
     * Suffix decoding (Arctic Inference, vLLM's {@code suffix}): suffix trees over the sequence's own tokens and over
     * recent outputs, drafting the most frequent continuation of the longest-scoring match, as many tokens as
     * {@code maxSpecFactor} times the match length and while the estimated probability stays at least
     * {@code minTokenProb}.
     *
     * @param maxTreeDepth      {@code suffix_decoding_max_tree_depth}: the longest substring the trees hold; bounds
     *                          the match length plus the draft length (vLLM: 24)
     * @param maxSpecFactor     {@code suffix_decoding_max_spec_factor}: a match of m tokens drafts at most
     *                          {@code floor(maxSpecFactor · m)} (vLLM: 1.0)
     * @param minTokenProb      {@code suffix_decoding_min_token_prob}: draft a token only while the product of the
     *                          frequency ratios along the path is at least this (vLLM: 0.1)
     * @param maxCachedRequests {@code suffix_decoding_max_cached_requests}: outputs kept in the global tree, evicted
     *                          oldest first; 0 turns the global tree off (vLLM: 10000)
     */
    public record Suffix(int maxTreeDepth, float maxSpecFactor, float minTokenProb, int maxCachedRequests)
            implements Method {
        public static final Suffix DEFAULTS = new Suffix(24, 1.0f, 0.1f, 10000);

        public Suffix {
            if (maxTreeDepth < 1) {
                throw new IllegalArgumentException("suffix_decoding_max_tree_depth must be >= 1, got " + maxTreeDepth);
            }
            if (!(maxSpecFactor >= 0) || Float.isInfinite(maxSpecFactor)) {
                throw new IllegalArgumentException("suffix_decoding_max_spec_factor must be a number >= 0, got "
                        + maxSpecFactor);
            }
            if (!(minTokenProb >= 0 && minTokenProb <= 1)) {
                throw new IllegalArgumentException("suffix_decoding_min_token_prob must be in [0, 1], got "
                        + minTokenProb);
            }
            if (maxCachedRequests < 0) {
                throw new IllegalArgumentException("suffix_decoding_max_cached_requests must be >= 0, got "
                        + maxCachedRequests);
            }
        }

        @Override
        public String name() {
            return "suffix";
        }
    }
}
