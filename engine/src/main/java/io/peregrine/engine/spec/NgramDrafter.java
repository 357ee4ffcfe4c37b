package io.peregrine.engine.spec;

/**
 * Prompt lookup (vLLM's {@code ngram} method): the longest suffix of the sequence, between {@code minN} and
 * {@code maxN} tokens long, that also occurs earlier in the prompt or the output so far; the tokens that followed
 * its earliest earlier occurrence are the draft. Costs {@code O(length · maxN)} per call on the engine thread.
 */
public final class NgramDrafter implements Drafter {
    private final int minN;
    private final int maxN;

    public NgramDrafter(int minN, int maxN) {
        if (minN < 1 || maxN < minN) {
            throw new IllegalArgumentException("prompt_lookup_min must be >= 1 and <= prompt_lookup_max, got "
                    + minN + " and " + maxN);
        }
        this.minN = minN;
        this.maxN = maxN;
    }

    @Override
    public int propose(long sequence, int[] tokens, int promptLength, int length, int max, int[] out) {
        if (max <= 0) {
            return 0;
        }
        for (int n = Math.min(maxN, length - 1); n >= minN; n--) {
            int suffix = length - n;
            // an occurrence starting at i is followed by tokens[i + n ..]; it must end before the suffix starts
            // to have a follower that is not the suffix's own future
            for (int i = 0; i + n < length; i++) {
                if (i == suffix) {
                    break;
                }
                if (matches(tokens, i, suffix, n)) {
                    int count = Math.min(max, length - (i + n));
                    System.arraycopy(tokens, i + n, out, 0, count);
                    return count;
                }
            }
        }
        return 0;
    }

    private static boolean matches(int[] tokens, int a, int b, int n) {
        for (int j = 0; j < n; j++) {
            if (tokens[a + j] != tokens[b + j]) {
                return false;
            }
        }
        return true;
    }
}
