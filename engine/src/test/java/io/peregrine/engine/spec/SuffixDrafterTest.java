package io.peregrine.engine.spec;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The suffix drafter against a brute-force model of Arctic Inference's cache: a sequence's own tree is its prompt
 * and output so far; the global tree holds the outputs of the last {@code max_cached_requests} sequences in the
 * order they were first seen (each as far as the drafter has learned it), evicted oldest first; the own draft wins
 * ties. Sequences interleave, end, and new ones arrive.
 */
class SuffixDrafterTest {

    /** What the model knows of one sequence: its prompt length and the tokens learned. */
    private static final class Known {
        final int promptLength;
        int[] tokens;

        Known(int promptLength, int[] tokens) {
            this.promptLength = promptLength;
            this.tokens = tokens;
        }

        int[] output() {
            return Arrays.copyOfRange(tokens, promptLength, tokens.length);
        }
    }

    @Test
    void proposalsMatchTheBruteForceCache() {
        SplittableRandom r = new SplittableRandom(2510);
        for (int round = 0; round < 40; round++) {
            int depth = 2 + r.nextInt(7);
            int cachedMax = r.nextInt(4); // 0: no global tree
            float factor = r.nextBoolean() ? 1.0f : 2.0f;
            float minProb = r.nextBoolean() ? 0.1f : 0.4f;
            int alphabet = 2 + r.nextInt(3);
            var config = new SpeculativeConfig.Suffix(depth, factor, minProb, cachedMax);
            SuffixDrafter drafter = new SuffixDrafter(config);

            Map<Long, int[]> live = new LinkedHashMap<>(); // the sequences' current tokens
            Map<Long, Integer> prompts = new HashMap<>();
            Map<Long, Known> own = new HashMap<>(); // sequences the drafter holds a tree for
            ArrayDeque<Known> cache = new ArrayDeque<>(); // the global tree's outputs, oldest first
            Map<Long, Known> cachedLive = new HashMap<>();
            long nextId = 0;
            int[] out = new int[16];
            for (int op = 0; op < 150; op++) {
                int kind = r.nextInt(10);
                if (live.isEmpty() || kind == 0) {
                    long id = nextId++;
                    int[] prompt = r.ints(1 + r.nextInt(12), 0, alphabet).toArray();
                    live.put(id, prompt);
                    prompts.put(id, prompt.length);
                    continue;
                }
                long id = new ArrayList<>(live.keySet()).get(r.nextInt(live.size()));
                int[] q = live.get(id);
                int p = prompts.get(id);
                if (kind == 1) {
                    drafter.finished(id, q, p, q.length);
                    if (own.remove(id) != null) {
                        Known k = cachedLive.remove(id);
                        if (k != null) {
                            k.tokens = q.clone();
                        }
                    } else if (cachedMax > 0 && q.length > p) {
                        register(cache, new Known(p, q.clone()), cachedMax, cachedLive);
                    }
                    live.remove(id);
                    continue;
                }
                if (kind < 5) {
                    int token = q.length > 2 && r.nextBoolean() ? q[r.nextInt(q.length)] : r.nextInt(alphabet);
                    q = Arrays.copyOf(q, q.length + 1);
                    q[q.length - 1] = token;
                    live.put(id, q);
                    continue;
                }
                // propose
                int max = r.nextInt(10);
                if (!own.containsKey(id)) {
                    own.put(id, new Known(p, q));
                    if (cachedMax > 0) {
                        Known k = new Known(p, q.clone());
                        cachedLive.put(id, k);
                        register(cache, k, cachedMax, cachedLive);
                    }
                }
                own.get(id).tokens = q.clone();
                if (cachedLive.containsKey(id)) {
                    cachedLive.get(id).tokens = q.clone();
                }
                int[] context = Arrays.copyOfRange(q, Math.max(0, q.length - depth), q.length);
                int[] expected = new int[0];
                if (max > 0) {
                    var mine = SuffixReference.speculate(List.of(q), depth, context, max, factor, minProb);
                    expected = mine.tokens();
                    if (cachedMax > 0) {
                        List<int[]> outputs = cache.stream().map(Known::output).toList();
                        var global = SuffixReference.speculate(outputs, depth, context, max, factor, minProb);
                        if (global.score() > mine.score()) {
                            expected = global.tokens();
                        }
                    }
                }
                int n = drafter.propose(id, q, p, q.length, max, out);
                assertArrayEquals(expected, Arrays.copyOf(out, n), "round " + round + " op " + op + " seq " + id);
                assertEquals(own.size(), drafter.liveSequences());
                assertEquals(cache.size(), drafter.cachedOutputs());
            }
            for (long id : new ArrayList<>(live.keySet())) {
                drafter.finished(id, live.get(id), prompts.get(id), live.get(id).length);
            }
            assertEquals(0, drafter.liveSequences(), "ended sequences still hold trees");
        }
    }

    private static void register(ArrayDeque<Known> cache, Known k, int max, Map<Long, Known> cachedLive) {
        cache.addLast(k);
        while (cache.size() > max) {
            Known old = cache.removeFirst();
            cachedLive.values().remove(old);
        }
    }

    @Test
    void anEarlierOutputIsDraftedForANewRequest() {
        SuffixDrafter d = new SuffixDrafter(SpeculativeConfig.Suffix.DEFAULTS);
        int[] first = {7, 7, 1, 2, 3, 4, 5, 6, 8};
        d.finished(0, first, 2, first.length); // prompt 7 7, output 1 .. 8: cached
        int[] second = {9, 1, 2, 3};
        int[] out = new int[16];
        int n = d.propose(1, second, 1, second.length, 16, out);
        // "1 2 3" matches the cached output (3 tokens, factor 1: up to 3 tokens), its continuation is certain
        assertArrayEquals(new int[] {4, 5, 6}, Arrays.copyOf(out, n));
        // with no global cache, the request's own tokens hold no continuation
        SuffixDrafter none = new SuffixDrafter(new SpeculativeConfig.Suffix(24, 1.0f, 0.1f, 0));
        none.finished(0, first, 2, first.length);
        assertEquals(0, none.propose(1, second, 1, second.length, 16, out));
    }

    @Test
    void aSequenceWhoseTokensShrinkIsABug() {
        SuffixDrafter d = new SuffixDrafter(SpeculativeConfig.Suffix.DEFAULTS);
        int[] q = {1, 2, 3, 1, 2};
        d.propose(0, q, 2, 5, 4, new int[16]);
        assertThrows(IllegalStateException.class, () -> d.propose(0, q, 2, 4, 4, new int[16]));
    }
}
