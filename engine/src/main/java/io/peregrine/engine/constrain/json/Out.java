package io.peregrine.engine.constrain.json;

import java.util.Arrays;

/** The stacks one byte leads to (more than one only under anyOf or an ambiguous enum); reused between steps. */
final class Out {
    Stack[] stacks = new Stack[4];
    int size;

    void add(Stack s) {
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
