package io.peregrine.engine.spec;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Suffix decoding (vLLM's {@code suffix} method, after Arctic Inference's {@code SuffixDecodingCache}): each live
 * sequence has its own {@link SuffixTree} over its prompt and output, and one global tree holds the outputs of the
 * last {@code max_cached_requests} sequences (live ones included, evicted oldest first; none when 0). A proposal is
 * the better-scoring of the two trees' drafts for the sequence's last {@code max_tree_depth} tokens (the sequence's
 * own on a tie), so its length adapts to how long a match was found and how sure its continuation is.
 *
 * <p>The trees learn a sequence's tokens when it next asks for a draft, and its whole output when it ends
 * ({@link #finished}); an output is cached whether or not the sequence ever speculated, as vLLM caches every
 * request's. Memory is linear in the tokens held, about 220 bytes of heap per token (measured: a million text-like
 * tokens at depth 24): a sequence's own tree is freed when it ends; the global tree holds the cached outputs, so
 * vLLM's default of 10,000 cached outputs of 1,000 tokens is about 2.2 GB (lower {@code max_cached_requests} on small
 * hosts).
 */
public final class SuffixDrafter implements Drafter {
    private final SpeculativeConfig.Suffix config;
    private final Map<Long, Local> locals = new HashMap<>();
    /** null: {@code max_cached_requests} is 0 */
    private final SuffixTree global;
    /** The global tree's outputs, oldest first. */
    private final ArrayDeque<Integer> cached = new ArrayDeque<>();
    /** Live sequences by their output's id in the global tree. */
    private final IntMap<Local> liveByGlobalId = new IntMap<>();
    private int nextGlobalId;
    private final SuffixTree.Draft best;
    private final SuffixTree.Draft other;
    private final SuffixTree.Draft scratch;

    /** A live sequence: its own tree, how many of its tokens the trees hold, and its output's global id (or -1). */
    private static final class Local {
        final SuffixTree tree;
        int known;
        int globalId = -1;

        Local(int maxDepth) {
            tree = new SuffixTree(maxDepth);
        }
    }

    public SuffixDrafter(SpeculativeConfig.Suffix config) {
        this.config = java.util.Objects.requireNonNull(config);
        this.global = config.maxCachedRequests() == 0 ? null : new SuffixTree(config.maxTreeDepth());
        this.best = new SuffixTree.Draft(config.maxTreeDepth());
        this.other = new SuffixTree.Draft(config.maxTreeDepth());
        this.scratch = new SuffixTree.Draft(config.maxTreeDepth());
    }

    @Override
    public int propose(long sequence, int[] tokens, int promptLength, int length, int max, int[] out) {
        Local l = locals.get(sequence);
        if (l == null) {
            l = new Local(config.maxTreeDepth());
            l.tree.extend(0, tokens, 0, promptLength);
            l.known = promptLength;
            if (global != null) {
                l.globalId = cache();
                liveByGlobalId.put(l.globalId, l);
            }
            locals.put(sequence, l);
        }
        learn(l, tokens, length);
        if (max <= 0) {
            return 0;
        }
        int from = Math.max(0, length - config.maxTreeDepth());
        l.tree.speculate(tokens, from, length, max, config.maxSpecFactor(), config.minTokenProb(), best, scratch);
        SuffixTree.Draft d = best;
        if (global != null) {
            global.speculate(tokens, from, length, max, config.maxSpecFactor(), config.minTokenProb(), other,
                    scratch);
            if (other.score > best.score) {
                d = other;
            }
        }
        System.arraycopy(d.tokens, 0, out, 0, d.length);
        return d.length;
    }

    @Override
    public void finished(long sequence, int[] tokens, int promptLength, int length) {
        Local l = locals.remove(sequence);
        if (l != null) {
            learn(l, tokens, length);
            if (l.globalId >= 0) {
                liveByGlobalId.remove(l.globalId);
            }
        } else if (global != null && length > promptLength) {
            global.extend(cache(), tokens, promptLength, length);
        }
    }

    /** Sequences whose own tree is held (for tests: ended ones must leave none). */
    int liveSequences() {
        return locals.size();
    }

    /** Outputs in the global tree (for tests). */
    int cachedOutputs() {
        return cached.size();
    }

    private void learn(Local l, int[] tokens, int length) {
        if (length < l.known) {
            throw new IllegalStateException("a sequence's tokens shrank from " + l.known + " to " + length);
        }
        l.tree.extend(0, tokens, l.known, length);
        if (l.globalId >= 0) {
            global.extend(l.globalId, tokens, l.known, length);
        }
        l.known = length;
    }

    /** A new output id in the global tree, evicting the oldest outputs past {@code max_cached_requests}. */
    private int cache() {
        int id = nextGlobalId;
        while (global.contains(id) || liveByGlobalId.containsKey(id)) {
            id = id == Integer.MAX_VALUE ? 0 : id + 1;
        }
        nextGlobalId = id == Integer.MAX_VALUE ? 0 : id + 1;
        cached.addLast(id);
        while (cached.size() > config.maxCachedRequests()) {
            int old = cached.removeFirst();
            global.remove(old);
            Local live = liveByGlobalId.get(old);
            if (live != null) {
                live.globalId = -1; // still drafting, no longer cached
                liveByGlobalId.remove(old);
            }
        }
        return id;
    }
}
