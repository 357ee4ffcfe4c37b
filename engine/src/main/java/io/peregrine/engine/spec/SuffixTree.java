package io.peregrine.engine.spec;

import java.util.ArrayList;
import java.util.List;

/**
 * A suffix tree over several token sequences, each suffix cut at {@code maxDepth} tokens, with path compression
 * (Arctic Inference's, which vLLM's {@code suffix} method runs): a node is a run of tokens that every suffix through
 * it shares, and its {@code count} is how many suffixes pass through or end in it, which is how often its string
 * occurs in the sequences (for strings of at most {@code maxDepth} tokens). Sequences grow a token at a time
 * ({@link #append}) and leave whole ({@link #remove}); {@link #speculate} drafts the most frequent continuation of
 * a context. Memory is linear in the tokens held. Engine thread only.
 *
 * <p>Every suffix that is still growing ends exactly at the end of a node (its endpoint), so extending it by a token
 * either lengthens a leaf, steps into a child, splits a child, or adds one. Endpoints also let {@link #remove} find a
 * surviving sequence for nodes whose tokens were referenced in the removed one.
 */
final class SuffixTree {

    private static final class Node {
        long count;
        /** The first token of the node's run (its key in the parent's children). */
        int token;
        int length;
        /** The run is {@code seqs[refSeq].tokens[refIdx, refIdx + length)}. */
        int refSeq;
        int refIdx = -1;
        Node parent;
        final IntMap<Node> children = new IntMap<>();
        /** Sequence id to the index just past the suffix of it that ends here (a one-int box, updated in place). */
        final IntMap<int[]> endpoints = new IntMap<>();
    }

    private static final class Seq {
        int[] tokens = new int[16];
        int length;
        /** The nodes where this sequence's last {@code maxDepth} suffixes end, oldest first (a ring). */
        final Node[] active;
        int head;
        int activeCount;

        Seq(int maxDepth) {
            active = new Node[maxDepth + 1];
        }

        Node active(int i) {
            return active[(head + i) % active.length];
        }

        void setActive(int i, Node n) {
            active[(head + i) % active.length] = n;
        }
    }

    /** A draft: its tokens, the sum of their estimated probabilities (the score), and the match it came from. */
    static final class Draft {
        final int[] tokens;
        int length;
        float score;
        int matchLength;

        Draft(int capacity) {
            tokens = new int[capacity];
        }

        void clear() {
            length = 0;
            score = 0;
            matchLength = 0;
        }

        void copyFrom(Draft d) {
            System.arraycopy(d.tokens, 0, tokens, 0, d.length);
            length = d.length;
            score = d.score;
            matchLength = d.matchLength;
        }
    }

    private final int maxDepth;
    private final Node root = new Node();
    private final IntMap<Seq> seqs = new IntMap<>();
    private final List<Node> path = new ArrayList<>();

    SuffixTree(int maxDepth) {
        if (maxDepth < 1) {
            throw new IllegalArgumentException("max depth must be >= 1, got " + maxDepth);
        }
        this.maxDepth = maxDepth;
    }

    int maxDepth() {
        return maxDepth;
    }

    boolean contains(int seqId) {
        return seqs.containsKey(seqId);
    }

    /** Appends {@code tokens[from, to)} to sequence {@code seqId} (made when new). */
    void extend(int seqId, int[] tokens, int from, int to) {
        for (int i = from; i < to; i++) {
            append(seqId, tokens[i]);
        }
    }

    /** Appends one token to sequence {@code seqId} (made when new), adding the suffixes that end at it. */
    void append(int seqId, int token) {
        if (seqId < 0 || token < 0) {
            throw new IllegalArgumentException("negative sequence id or token: " + seqId + ", " + token);
        }
        Seq seq = seqs.get(seqId);
        if (seq == null) {
            seq = new Seq(maxDepth);
            seqs.put(seqId, seq);
        }
        // a new, empty suffix starts at the root; the oldest is cut once it is maxDepth long
        seq.active[(seq.head + seq.activeCount) % seq.active.length] = root;
        seq.activeCount++;
        root.count++;
        if (seq.activeCount > maxDepth) {
            seq.head = (seq.head + 1) % seq.active.length;
            seq.activeCount--;
        }
        if (seq.length == seq.tokens.length) {
            seq.tokens = java.util.Arrays.copyOf(seq.tokens, 2 * seq.length);
        }
        seq.tokens[seq.length++] = token;
        int size = seq.length;

        for (int i = 0; i < seq.activeCount; i++) {
            Node node = seq.active(i);
            Node child = node.children.get(token);
            if (child == null) {
                if (node.count == 1 && node != root) {
                    // only this suffix reaches the node: it is a leaf of this sequence, and grows
                    node.length++;
                    node.endpoints.get(seqId)[0]++;
                } else {
                    Node leaf = new Node();
                    leaf.token = token;
                    leaf.parent = node;
                    leaf.count = 1;
                    leaf.endpoints.put(seqId, new int[] {size});
                    leaf.refSeq = seqId;
                    leaf.refIdx = size - 1;
                    leaf.length = 1;
                    node.children.put(token, leaf);
                    node.endpoints.remove(seqId);
                    seq.setActive(i, leaf);
                }
            } else if (node.count == child.count + 1 && node != root) {
                // every other suffix through the node goes on into the child: the node grows into it
                if (child.length == 1) {
                    // the child is exactly one token: it takes the node's place
                    Node parent = node.parent;
                    child.token = node.token;
                    child.count++;
                    child.length = node.length + 1;
                    child.endpoints.put(seqId, new int[] {size});
                    child.refSeq = seqId;
                    child.refIdx = size - child.length;
                    child.parent = parent;
                    parent.children.put(child.token, child);
                    seq.setActive(i, child);
                } else {
                    node.length++;
                    node.endpoints.get(seqId)[0]++;
                    node.refSeq = seqId;
                    node.refIdx = size - node.length;
                    child.length--;
                    child.refIdx++;
                    child.token = seqs.get(child.refSeq).tokens[child.refIdx];
                    if (child.token != token) {
                        node.children.remove(token);
                        node.children.put(child.token, child);
                    }
                }
            } else if (child.length == 1) {
                node.endpoints.remove(seqId);
                child.count++;
                child.endpoints.put(seqId, new int[] {size});
                child.refSeq = seqId;
                child.refIdx = size - 1;
                seq.setActive(i, child);
            } else {
                // the suffix ends one token into a longer child: split it
                Node head = new Node();
                head.token = token;
                head.count = child.count + 1;
                head.parent = node;
                head.length = 1;
                head.endpoints.put(seqId, new int[] {size});
                head.refSeq = seqId;
                head.refIdx = size - 1;
                child.token = seqs.get(child.refSeq).tokens[child.refIdx + 1];
                head.children.put(child.token, child);
                node.children.put(token, head);
                node.endpoints.remove(seqId);
                child.parent = head;
                child.length--;
                child.refIdx++;
                seq.setActive(i, head);
            }
        }
    }

    /** Removes sequence {@code seqId} and every suffix of it. */
    void remove(int seqId) {
        Seq removed = seqs.get(seqId);
        if (removed == null) {
            return;
        }
        int[] seq = removed.tokens;
        int n = removed.length;
        for (int start = 0; start < n; start++) {
            Node node = root;
            node.count--;
            int idx = start;
            path.clear();
            while (idx < n) {
                int token = seq[idx];
                Node child = node.children.get(token);
                if (child == null) {
                    break;
                }
                child.count--;
                if (child.count == 0) {
                    node.children.remove(token);
                    break;
                }
                child.endpoints.remove(seqId);
                idx += child.length;
                node = child;
                path.add(node);
            }
            // the last node reached may now have one child of the same count: they merge
            if (node != root && node.children.size() == 1) {
                Node child = firstChild(node);
                if (node.count == child.count) {
                    child.token = node.token;
                    child.length += node.length;
                    child.refIdx -= node.length;
                    child.parent = node.parent;
                    path.set(path.size() - 1, child);
                    node = child;
                    node.parent.children.put(node.token, node);
                }
            }
            // nodes on the path that referenced the removed sequence's tokens re-point at a surviving one
            Node leaf = node;
            int distance = 0;
            while (!leaf.children.isEmpty()) {
                leaf = firstChild(leaf);
                distance += leaf.length;
            }
            if (leaf.endpoints.isEmpty() || leaf.endpoints.containsKey(seqId)) {
                continue; // visited again later in this removal, which fixes the references then
            }
            int refSeq = -1;
            int refEnd = 0;
            for (int s = 0; s < leaf.endpoints.capacity(); s++) {
                int[] end = leaf.endpoints.valueAt(s);
                if (end != null) {
                    refSeq = leaf.endpoints.keyAt(s);
                    refEnd = end[0];
                    break;
                }
            }
            int refIdx = refEnd - distance;
            for (int p = path.size() - 1; p >= 0; p--) {
                Node on = path.get(p);
                refIdx -= on.length;
                if (on.refSeq == seqId) {
                    on.refSeq = refSeq;
                    on.refIdx = refIdx;
                }
            }
        }
        seqs.remove(seqId);
    }

    private static Node firstChild(Node node) {
        IntMap<Node> c = node.children;
        for (int s = 0; s < c.capacity(); s++) {
            Node n = c.valueAt(s);
            if (n != null) {
                return n;
            }
        }
        throw new IllegalStateException("no child");
    }

    /**
     * Arctic Inference's path speculation: for each match length {@code m = 1 ..} of the context's last tokens
     * (while the tree holds them; at most the context's length minus one), a draft of at most
     * {@code min(maxSpecTokens, floor(m · maxSpecFactor))} tokens follows the most frequent child at every branch
     * (ties: the smallest token) while the product of the count ratios stays at least {@code minTokenProb}; its
     * score is the sum of those products. The best score wins, a longer match on a tie. Leaves it in {@code best}
     * (empty, score 0, when nothing matches); {@code scratch} is work space of the same capacity.
     */
    void speculate(int[] context, int from, int to, int maxSpecTokens, float maxSpecFactor, float minTokenProb,
                   Draft best, Draft scratch) {
        best.clear();
        int length = to - from;
        for (int m = 1; m < length; m++) {
            Node node = root;
            int idx = 0;
            boolean matched = true;
            for (int i = to - m; i < to; i++) {
                int c = context[i];
                if (idx >= node.length) {
                    Node child = node.children.get(c);
                    if (child == null) {
                        matched = false;
                        break;
                    }
                    node = child;
                    idx = 0;
                }
                if (seqs.get(node.refSeq).tokens[node.refIdx + idx] != c) {
                    matched = false;
                    break;
                }
                idx++;
            }
            if (!matched) {
                break;
            }
            int maxTokens = Math.max(0, Math.min(maxSpecTokens, (int) (m * maxSpecFactor + 1e-6)));
            speculatePath(node, idx, maxTokens, minTokenProb, scratch);
            if (scratch.score >= best.score) {
                best.copyFrom(scratch);
                best.matchLength = m;
            }
        }
    }

    private void speculatePath(Node node, int idx, int maxTokens, float minTokenProb, Draft out) {
        out.clear();
        float prob = 1.0f;
        while (out.length < maxTokens && prob >= minTokenProb) {
            if (idx < node.length) {
                out.tokens[out.length++] = seqs.get(node.refSeq).tokens[node.refIdx + idx];
                out.score += prob;
                idx++;
            } else {
                Node best = null;
                IntMap<Node> c = node.children;
                for (int s = 0; s < c.capacity(); s++) {
                    Node ch = c.valueAt(s);
                    if (ch != null && (best == null || ch.count > best.count
                            || ch.count == best.count && ch.token < best.token)) {
                        best = ch;
                    }
                }
                if (best == null) {
                    break;
                }
                prob *= (float) best.count / node.count;
                node = best;
                idx = 0;
            }
        }
    }

    /** For tests: how often {@code s} occurs (0 when the tree does not hold it, e.g. longer than the depth). */
    long count(int[] s) {
        Node node = root;
        int idx = 0;
        for (int c : s) {
            if (idx >= node.length) {
                node = node.children.get(c);
                if (node == null) {
                    return 0;
                }
                idx = 0;
            }
            if (seqs.get(node.refSeq).tokens[node.refIdx + idx] != c) {
                return 0;
            }
            idx++;
        }
        return node.count;
    }

    /**
     * For tests: the structural invariants (a child's count below its parent's, counts at least the children's
     * sum, runs that match their reference tokens, first tokens that match the parent's key); null when they hold.
     */
    String checkIntegrity() {
        java.util.ArrayDeque<Node> queue = new java.util.ArrayDeque<>();
        queue.add(root);
        while (!queue.isEmpty()) {
            Node node = queue.poll();
            long sum = 0;
            for (int s = 0; s < node.children.capacity(); s++) {
                Node ch = node.children.valueAt(s);
                if (ch == null) {
                    continue;
                }
                if (ch.parent != node) {
                    return "child with the wrong parent";
                }
                if (node.children.keyAt(s) != ch.token) {
                    return "child under the wrong key";
                }
                if (node != root && ch.count >= node.count) {
                    return "child count not below its parent's";
                }
                sum += ch.count;
                queue.add(ch);
            }
            if (sum > node.count) {
                return "count below the children's sum";
            }
            if (node != root) {
                if (node.length <= 0 || node.count <= 0) {
                    return "empty node";
                }
                Seq ref = seqs.get(node.refSeq);
                if (ref == null || node.refIdx < 0 || node.refIdx + node.length > ref.length) {
                    return "bad reference";
                }
                if (ref.tokens[node.refIdx] != node.token) {
                    return "first token does not match the reference";
                }
            }
        }
        return null;
    }
}
