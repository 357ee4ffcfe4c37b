package io.peregrine.engine.constrain.json;

import java.util.Arrays;
import java.util.function.IntFunction;

/**
 * Token byte strings as a trie laid out in preorder: node i has one byte {@code label[i]}, sits at
 * {@code depth[i]} (the root, depth 0, is implicit), its subtree ends before {@code end[i]}, and {@code token[i]}
 * is the token whose bytes end there (or -1). A walk is a flat loop that skips a rejected subtree by jumping to
 * its end, so a constraint only ever looks at tokens whose every prefix it accepts.
 */
final class TokenTrie {
    final byte[] label;
    final short[] depth;
    final int[] end;
    final int[] token;
    /** Token ids with the same bytes as another, chained: next[t] is the next such id or -1. */
    final int[] next;
    final int size;
    final int maxDepth;

    private TokenTrie(byte[] label, short[] depth, int[] end, int[] token, int[] next, int size, int maxDepth) {
        this.label = label;
        this.depth = depth;
        this.end = end;
        this.token = token;
        this.next = next;
        this.size = size;
        this.maxDepth = maxDepth;
    }

    /** A trie of the given tokens (ids into {@code bytesOf}); empty byte strings are left out. */
    static TokenTrie of(IntFunction<byte[]> bytesOf, int[] ids) {
        Integer[] order = new Integer[ids.length];
        byte[][] bytes = new byte[ids.length][];
        int total = 0;
        for (int i = 0; i < ids.length; i++) {
            order[i] = i;
            bytes[i] = bytesOf.apply(ids[i]);
            total += bytes[i].length;
        }
        Arrays.sort(order, (a, b) -> Arrays.compareUnsigned(bytes[a], bytes[b]));
        byte[] label = new byte[total];
        short[] depth = new short[total];
        int[] end = new int[total];
        int[] token = new int[total];
        int[] path = new int[1 << 12]; // node index per depth along the current path
        int pathLen = 0;
        int size = 0;
        int maxDepth = 0;
        int maxId = 0;
        for (int id : ids) {
            maxId = Math.max(maxId, id);
        }
        int[] next = new int[maxId + 1];
        Arrays.fill(next, -1);
        byte[] prev = new byte[0];
        for (Integer o : order) {
            byte[] b = bytes[o];
            if (b.length == 0) {
                continue;
            }
            int lcp = 0;
            while (lcp < Math.min(prev.length, b.length) && prev[lcp] == b[lcp]) {
                lcp++;
            }
            while (pathLen > lcp) {
                end[path[--pathLen]] = size;
            }
            for (int d = lcp; d < b.length; d++) {
                if (pathLen == path.length) {
                    path = Arrays.copyOf(path, path.length * 2);
                }
                label[size] = b[d];
                depth[size] = (short) (d + 1);
                token[size] = -1;
                path[pathLen++] = size++;
            }
            int at = path[pathLen - 1];
            if (token[at] < 0) {
                token[at] = ids[o];
            } else { // byte-identical tokens: chain them, every one is allowed where the bytes are
                next[ids[o]] = next[token[at]];
                next[token[at]] = ids[o];
            }
            maxDepth = Math.max(maxDepth, b.length);
            prev = b;
        }
        while (pathLen > 0) {
            end[path[--pathLen]] = size;
        }
        return new TokenTrie(Arrays.copyOf(label, size), Arrays.copyOf(depth, size), Arrays.copyOf(end, size),
                Arrays.copyOf(token, size), next, size, maxDepth);
    }

    /** Sets the bit of every token whose bytes take {@code root} to a live state; returns the stacks offered. */
    long walk(JsonMatcher root, long[] bits) {
        JsonMatcher[] states = new JsonMatcher[maxDepth + 1];
        states[0] = root;
        Out out = new Out();
        int i = 0;
        while (i < size) {
            int d = depth[i];
            JsonMatcher s = states[d - 1].step(label[i] & 0xFF, out);
            if (s == null) {
                i = end[i];
                continue;
            }
            states[d] = s;
            for (int t = token[i]; t >= 0; t = next[t]) {
                bits[t >>> 6] |= 1L << t;
            }
            i++;
        }
        return out.offered;
    }
}
