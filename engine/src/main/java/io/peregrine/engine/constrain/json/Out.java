package io.peregrine.engine.constrain.json;

import java.util.Arrays;

/**
 * The stacks one byte leads to (more than one only under anyOf or an ambiguous enum); reused between steps.
 *
 * <p>At most {@link #MAX_WIDTH} stacks are kept: the first ones added, in schema order. Overlapping anyOf
 * alternatives under recursion multiply the live parses with every level (two array alternatives that both recurse
 * double them at each '['), and a mask costs one trie walk times the width, so an unbounded width let one schema
 * stall the engine thread for minutes. Every stack is a parse that can still complete, so keeping some of them keeps
 * the output valid and never dead-ends; it only leaves out texts that only a dropped parse would have accepted.
 * Step and mask both go through here, in the same order, so they always agree on which parses survive.
 */
final class Out {
    static final int MAX_WIDTH = 32;

    Stack[] stacks = new Stack[4];
    int size;
    /** Stacks offered since creation (kept or not): the matcher's work, for tests that bound it. */
    long offered;

    void add(Stack s) {
        offered++;
        if (size == MAX_WIDTH) {
            return;
        }
        for (int i = 0; i < size; i++) {
            if (stacks[i].equals(s)) {
                return; // two alternatives that have converged
            }
        }
        if (size == stacks.length) {
            stacks = Arrays.copyOf(stacks, size * 2);
        }
        stacks[size++] = s;
    }

    void clear() {
        size = 0;
    }
}
