package io.peregrine.engine.backend;

import java.util.Arrays;

/**
 * DeepSeek-V3 {@code noaux_tc} routing for one token (spec §3.5): sigmoid scores, the correction bias used only
 * to choose, group-limited selection (a group scores the sum of its two best biased experts; the best
 * {@code topkGroup} groups stay), top-k among the kept experts, then the unbiased scores normalised and scaled.
 * Ties go to the lower expert index.
 */
public record MoeRouter(int experts, int nGroup, int topkGroup, int topK, boolean normTopkProb, float scaling) {

    public MoeRouter {
        if (experts <= 0 || nGroup <= 0 || experts % nGroup != 0) {
            throw new IllegalArgumentException("n_routed_experts " + experts + " not divisible into n_group " + nGroup);
        }
        if (topkGroup <= 0 || topkGroup > nGroup) {
            throw new IllegalArgumentException("topk_group " + topkGroup + " outside 1.." + nGroup);
        }
        if (topK <= 0 || topK > experts / nGroup * topkGroup) {
            throw new IllegalArgumentException("num_experts_per_tok " + topK + " exceeds the experts of "
                    + topkGroup + " kept groups");
        }
    }

    /**
     * @param logits router logits of this token at {@code off} ({@code experts} values)
     * @param bias   {@code e_score_correction_bias}
     * @param idx    out: chosen experts, best first
     * @param weight out: their routing weights
     */
    public void route(float[] logits, int off, float[] bias, int[] idx, float[] weight) {
        route(logits, off, bias, idx, weight, 0, scratch());
    }

    /** Working memory for {@link #route(float[], int, float[], int[], float[], int, Scratch)}, reusable token after token. */
    public record Scratch(float[] score, float[] choice, boolean[] allowed, float[] groupScore, boolean[] keptGroup) {}

    public Scratch scratch() {
        return new Scratch(new float[experts], new float[experts], new boolean[experts], new float[nGroup],
                new boolean[nGroup]);
    }

    /** {@link #route(float[], int, float[], int[], float[])} writing {@code idx}/{@code weight} from {@code outOff}, allocation-free. */
    public void route(float[] logits, int off, float[] bias, int[] idx, float[] weight, int outOff, Scratch s) {
        float[] score = s.score();
        float[] choice = s.choice();
        for (int e = 0; e < experts; e++) {
            score[e] = (float) (1.0 / (1.0 + Math.exp(-logits[off + e])));
            choice[e] = score[e] + bias[e];
        }
        boolean[] allowed = s.allowed();
        if (nGroup == 1) {
            Arrays.fill(allowed, true);
        } else {
            int per = experts / nGroup;
            float[] groupScore = s.groupScore();
            for (int g = 0; g < nGroup; g++) {
                float best = Float.NEGATIVE_INFINITY;
                float second = Float.NEGATIVE_INFINITY;
                for (int e = g * per; e < (g + 1) * per; e++) {
                    if (choice[e] > best) {
                        second = best;
                        best = choice[e];
                    } else if (choice[e] > second) {
                        second = choice[e];
                    }
                }
                groupScore[g] = per >= 2 ? best + second : best;
            }
            boolean[] keptGroup = s.keptGroup();
            Arrays.fill(keptGroup, false);
            for (int k = 0; k < topkGroup; k++) {
                int bestG = -1;
                for (int g = 0; g < nGroup; g++) {
                    if (!keptGroup[g] && (bestG < 0 || groupScore[g] > groupScore[bestG])) {
                        bestG = g;
                    }
                }
                keptGroup[bestG] = true;
            }
            for (int e = 0; e < experts; e++) {
                allowed[e] = keptGroup[e / per];
            }
        }
        float sum = 0;
        for (int k = 0; k < topK; k++) {
            int best = -1;
            for (int e = 0; e < experts; e++) {
                if (allowed[e] && (best < 0 || choice[e] > choice[best])) {
                    best = e;
                }
            }
            allowed[best] = false;
            idx[outOff + k] = best;
            weight[outOff + k] = score[best];
            sum += score[best];
        }
        for (int k = 0; k < topK; k++) {
            if (normTopkProb && topK > 1) {
                weight[outOff + k] = weight[outOff + k] / (sum + 1e-20f);
            }
            weight[outOff + k] *= scaling;
        }
    }
}
