package io.peregrine.engine.sample;

import io.peregrine.engine.runtime.TokenLogprob;
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
        int v = logits.length;
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
        int[] best = new int[k];
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
        List<TokenLogprob.Alternative> alts = new ArrayList<>(k);
        for (int j = 0; j < filled; j++) {
            alts.add(new TokenLogprob.Alternative(best[j], (float) (logits[best[j]] - logZ)));
        }
        return new TokenLogprob(chosen, (float) (logits[chosen] - logZ), alts);
    }
}
