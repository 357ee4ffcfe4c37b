package io.peregrine.engine.spec;

import java.util.Arrays;
import java.util.List;

/**
 * Suffix decoding by brute force, the oracle for {@link SuffixTree} and {@link SuffixDrafter}: counts by scanning
 * every sequence, and the draft by Arctic Inference's rule spelled out one token at a time (no tree): for each match
 * length, follow the most frequent next token (ties: the smallest) while the product of count ratios stays at least
 * the minimum probability; keep the best score, a longer match on a tie.
 */
final class SuffixReference {
    private SuffixReference() {}

    /** Occurrences of {@code s} in the sequences; 0 when longer than {@code maxDepth} (the tree holds no such string). */
    static long count(List<int[]> seqs, int[] s, int maxDepth) {
        if (s.length > maxDepth) {
            return 0;
        }
        long n = 0;
        for (int[] q : seqs) {
            for (int i = 0; i + s.length <= q.length; i++) {
                if (Arrays.equals(q, i, i + s.length, s, 0, s.length)) {
                    n++;
                }
            }
        }
        return n;
    }

    record Draft(int[] tokens, float score, int matchLength) {}

    static Draft speculate(List<int[]> seqs, int maxDepth, int[] context, int maxSpecTokens, float maxSpecFactor,
                           float minTokenProb) {
        Draft best = new Draft(new int[0], 0f, 0);
        for (int m = 1; m < context.length; m++) {
            int[] s = Arrays.copyOfRange(context, context.length - m, context.length);
            if (count(seqs, s, maxDepth) == 0) {
                break;
            }
            int maxTokens = Math.max(0, Math.min(maxSpecTokens, (int) (m * maxSpecFactor + 1e-6)));
            int[] cur = s;
            float prob = 1.0f;
            float score = 0f;
            int[] out = new int[0];
            while (out.length < maxTokens && prob >= minTokenProb) {
                long curCount = count(seqs, cur, maxDepth);
                int bestToken = -1;
                long bestCount = 0;
                for (int a : nextTokens(seqs, cur)) {
                    int[] ext = Arrays.copyOf(cur, cur.length + 1);
                    ext[cur.length] = a;
                    long c = count(seqs, ext, maxDepth);
                    if (c > bestCount || c == bestCount && c > 0 && a < bestToken) {
                        bestCount = c;
                        bestToken = a;
                    }
                }
                if (bestCount == 0) {
                    break;
                }
                prob *= (float) bestCount / curCount;
                if (!(prob >= minTokenProb)) {
                    break;
                }
                cur = Arrays.copyOf(cur, cur.length + 1);
                cur[cur.length - 1] = bestToken;
                out = Arrays.copyOf(out, out.length + 1);
                out[out.length - 1] = bestToken;
                score += prob;
            }
            if (score >= best.score()) {
                best = new Draft(out, score, m);
            }
        }
        return best;
    }

    private static int[] nextTokens(List<int[]> seqs, int[] s) {
        return seqs.stream().flatMapToInt(q -> java.util.stream.IntStream.range(0, q.length - s.length)
                        .filter(i -> Arrays.equals(q, i, i + s.length, s, 0, s.length)).map(i -> q[i + s.length]))
                .distinct().toArray();
    }
}
