package io.peregrine.engine.spec;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The compressed suffix tree against {@link SuffixReference}'s brute force: substring counts and drafts after
 * every kind of growth (sequences interleaved token by token over small alphabets, so runs split, merge and
 * re-key) and after sequences are removed (references re-pointed, nodes merged).
 */
class SuffixTreeTest {

    private static void assertMatchesReference(SuffixTree tree, Map<Integer, int[]> seqs, int depth,
                                               SplittableRandom r, int alphabet, String what) {
        assertNull(tree.checkIntegrity(), what);
        List<int[]> all = new ArrayList<>(seqs.values());
        // every string up to depth + 1 drawn from the sequences, and random ones
        for (int[] q : all) {
            for (int i = 0; i < q.length; i++) {
                for (int len = 1; len <= depth + 1 && i + len <= q.length; len++) {
                    int[] s = Arrays.copyOfRange(q, i, i + len);
                    assertEquals(SuffixReference.count(all, s, depth), tree.count(s), what + " count " + Arrays.toString(s));
                }
            }
        }
        for (int t = 0; t < 20; t++) {
            int[] s = r.ints(1 + r.nextInt(depth + 1), 0, alphabet).toArray();
            assertEquals(SuffixReference.count(all, s, depth), tree.count(s), what + " count " + Arrays.toString(s));
        }
        SuffixTree.Draft best = new SuffixTree.Draft(depth);
        SuffixTree.Draft scratch = new SuffixTree.Draft(depth);
        for (int t = 0; t < 30; t++) {
            int[] context;
            if (!all.isEmpty() && r.nextBoolean()) {
                int[] q = all.get(r.nextInt(all.size()));
                context = Arrays.copyOf(q, r.nextInt(q.length + 1)); // a prefix: its suffixes occur
            } else {
                context = r.ints(r.nextInt(depth + 3), 0, alphabet).toArray();
            }
            if (context.length > depth) {
                context = Arrays.copyOfRange(context, context.length - depth, context.length);
            }
            int maxSpec = r.nextInt(depth + 2);
            float factor = r.nextInt(4) == 0 ? 0.5f : r.nextInt(3) == 0 ? 2.5f : 1.0f;
            float minProb = new float[] {0f, 0.1f, 0.3f, 0.6f, 1f}[r.nextInt(5)];
            var expected = SuffixReference.speculate(all, depth, context, maxSpec, factor, minProb);
            tree.speculate(context, 0, context.length, maxSpec, factor, minProb, best, scratch);
            String where = what + " draft for " + Arrays.toString(context) + " max " + maxSpec + " factor " + factor
                    + " min " + minProb;
            assertArrayEquals(expected.tokens(), Arrays.copyOf(best.tokens, best.length), where);
            assertEquals(expected.score(), best.score, 0f, where);
            assertEquals(expected.matchLength(), best.matchLength, where);
        }
    }

    @Test
    void countsAndDraftsMatchBruteForceAsSequencesGrowAndLeave() {
        SplittableRandom r = new SplittableRandom(2411);
        for (int round = 0; round < 60; round++) {
            int depth = 1 + r.nextInt(8);
            int alphabet = 2 + r.nextInt(4);
            SuffixTree tree = new SuffixTree(depth);
            Map<Integer, int[]> seqs = new LinkedHashMap<>();
            int nextId = 0;
            for (int op = 0; op < 120; op++) {
                int kind = r.nextInt(20);
                if (kind == 0 && !seqs.isEmpty()) {
                    int id = new ArrayList<>(seqs.keySet()).get(r.nextInt(seqs.size()));
                    tree.remove(id);
                    seqs.remove(id);
                } else {
                    int id = seqs.isEmpty() || kind == 1 ? nextId++ : new ArrayList<>(seqs.keySet())
                            .get(r.nextInt(seqs.size()));
                    int[] q = seqs.getOrDefault(id, new int[0]);
                    // repeat an earlier stretch half the time, so long runs recur and compress
                    int token = q.length > 2 && r.nextBoolean() ? q[r.nextInt(q.length)] : r.nextInt(alphabet);
                    tree.append(id, token);
                    q = Arrays.copyOf(q, q.length + 1);
                    q[q.length - 1] = token;
                    seqs.put(id, q);
                }
                if (op % 10 == 9) {
                    assertMatchesReference(tree, seqs, depth, r, alphabet, "round " + round + " op " + op);
                }
            }
            // remove everything: the tree is empty again
            for (int id : new ArrayList<>(seqs.keySet())) {
                tree.remove(id);
                seqs.remove(id);
                assertMatchesReference(tree, seqs, depth, r, alphabet, "round " + round + " emptying");
            }
            assertEquals(0, tree.count(new int[] {0}));
        }
    }

    @Test
    void aRepeatedSpanIsDraftedWithItsFrequencyAsProbability() {
        SuffixTree tree = new SuffixTree(8);
        int[] q = {1, 2, 3, 4, 9, 1, 2, 3, 5, 1, 2, 3};
        tree.extend(0, q, 0, q.length);
        SuffixTree.Draft best = new SuffixTree.Draft(8);
        tree.speculate(q, q.length - 8, q.length, 8, 1.0f, 0.1f, best, new SuffixTree.Draft(8));
        // "1 2 3" occurs 3 times, followed by 4 once and 5 once (the third is the context's own end): ties take
        // the smaller token, at probability 1/3, then 9 1 2 3 follow with the same 1/3 for a 3-token match
        assertArrayEquals(new int[] {4, 9, 1}, Arrays.copyOf(best.tokens, best.length));
        assertEquals(3, best.matchLength);
        assertEquals(1f / 3 * 3, best.score, 1e-6f);
    }
}
