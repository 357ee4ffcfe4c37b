package io.peregrine.engine.constrain.json;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The declared property names of one object as a byte trie, so a key is matched byte by byte as the model writes
 * it: state 0 is the empty key; {@link #next} follows one byte; {@link #below} says which names a state can still
 * become (a 64-bit set over property indices).
 */
final class NameTrie {
    private final byte[][] labels;
    private final int[][] targets;
    private final int[] terminal;
    private final long[] below;

    private NameTrie(byte[][] labels, int[][] targets, int[] terminal, long[] below) {
        this.labels = labels;
        this.targets = targets;
        this.terminal = terminal;
        this.below = below;
    }

    static NameTrie of(String[] names) {
        List<byte[]> labels = new ArrayList<>();
        List<int[]> targets = new ArrayList<>();
        List<Integer> terminal = new ArrayList<>();
        List<Long> below = new ArrayList<>();
        labels.add(new byte[0]);
        targets.add(new int[0]);
        terminal.add(-1);
        below.add(0L);
        for (int p = 0; p < names.length; p++) {
            byte[] name = names[p].getBytes(StandardCharsets.UTF_8);
            int s = 0;
            below.set(0, below.get(0) | 1L << p);
            for (byte b : name) {
                int t = find(labels.get(s), targets.get(s), b);
                if (t < 0) {
                    t = labels.size();
                    labels.add(new byte[0]);
                    targets.add(new int[0]);
                    terminal.add(-1);
                    below.add(0L);
                    byte[] l = java.util.Arrays.copyOf(labels.get(s), labels.get(s).length + 1);
                    int[] g = java.util.Arrays.copyOf(targets.get(s), targets.get(s).length + 1);
                    l[l.length - 1] = b;
                    g[g.length - 1] = t;
                    labels.set(s, l);
                    targets.set(s, g);
                }
                s = t;
                below.set(s, below.get(s) | 1L << p);
            }
            terminal.set(s, p);
        }
        int n = labels.size();
        int[] term = new int[n];
        long[] bel = new long[n];
        for (int i = 0; i < n; i++) {
            term[i] = terminal.get(i);
            bel[i] = below.get(i);
        }
        return new NameTrie(labels.toArray(byte[][]::new), targets.toArray(int[][]::new), term, bel);
    }

    private static int find(byte[] labels, int[] targets, byte b) {
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] == b) {
                return targets[i];
            }
        }
        return -1;
    }

    /** The state after one more byte, or -1 when no declared name continues that way. */
    int next(int state, int b) {
        return find(labels[state], targets[state], (byte) b);
    }

    /** The property whose whole name this state is, or -1. */
    int terminal(int state) {
        return terminal[state];
    }

    /** The properties whose names start with this state's bytes. */
    long below(int state) {
        return below[state];
    }
}
