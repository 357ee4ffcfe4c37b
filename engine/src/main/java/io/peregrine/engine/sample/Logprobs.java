package io.peregrine.engine.sample;

import java.util.ArrayList;
import java.util.List;

/**
 * Log-probabilities as OpenAI reports them: of the model's own distribution (raw logits, before penalties,
 * temperature and truncation, as vLLM does by default), for the chosen token and the most likely alternatives.
 */
public final class Logprobs {
    private Logprobs() {}

    /** @param top alternatives to list, most likely first, lower token id first on ties (0..20) */
    public static TokenLogprob of(float[] logits, int chosen, int top) {
        int k = Math.min(top, logits.length);
        int[] best = new int[k];
        float[] lp = new float[k + 1];
        int filled = compute(logits, logits.length, chosen, top, best, lp);
        List<TokenLogprob.Alternative> alts = new ArrayList<>(filled);
        for (int j = 0; j < filled; j++) {
            alts.add(new TokenLogprob.Alternative(best[j], lp[j + 1]));
        }
        return new TokenLogprob(chosen, lp[0], alts);
    }

    /**
     * The log-probabilities of the first {@code v} logits: the chosen token's into {@code lp[0]}, the best
     * {@code top} alternatives' ids into {@code best} and theirs into {@code lp[1..]}.
     *
     * @return the number of alternatives written
     */
    public static int compute(float[] logits, int v, int chosen, int top, int[] best, float[] lp) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < v; i++) {
            max = Math.max(max, logits[i]);
        }
        double sum = 0;
        for (int i = 0; i < v; i++) {
            sum += Math.exp(logits[i] - max);
        }
        double logZ = max + Math.log(sum);
        int k = Math.min(top, v);
        int filled = 0;
        for (int i = 0; i < v; i++) {
            if (logits[i] == Float.NEGATIVE_INFINITY) {
                continue; // masked by a constraint: not an alternative (and -inf is not valid JSON)
            }
            // insertion into a small sorted list: k <= 20
            int pos = filled;
            while (pos > 0 && logits[best[pos - 1]] < logits[i]) {
                pos--;
            }
            if (pos >= k) {
                continue;
            }
            int end = Math.min(filled, k - 1);
            System.arraycopy(best, pos, best, pos + 1, end - pos);
            best[pos] = i;
            filled = Math.min(filled + 1, k);
        }
        lp[0] = (float) (logits[chosen] - logZ);
        for (int j = 0; j < filled; j++) {
            lp[j + 1] = (float) (logits[best[j]] - logZ);
        }
        return filled;
    }
}
