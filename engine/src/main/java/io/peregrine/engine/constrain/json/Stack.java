package io.peregrine.engine.constrain.json;

/**
 * What is left to match, as an immutable linked stack of frames: stepping never changes a stack, it builds new
 * tops over the shared rest, so a trie walk can keep the state of every prefix at once (copy-on-branch for free).
 * {@link #END} is the empty stack: the value is complete and nothing may follow.
 */
record Stack(Frame top, Stack rest, int depth) {
    static final Stack END = new Stack(null, null, 0);

    static Stack push(Frame f, Stack rest) {
        return new Stack(f, rest, rest.depth + 1);
    }

    /** Feeds one byte to this stack; each way it can be read is added to {@code out}. */
    void feed(int b, Out out) {
        if (top != null) {
            top.feed(b, rest, out);
        }
    }

    /** Whether the value may end here (nothing left, or only a number / literal that can stop now). */
    boolean complete() {
        return top == null || rest == END && top.canEnd();
    }
}
