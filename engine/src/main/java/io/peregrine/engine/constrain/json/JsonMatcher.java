package io.peregrine.engine.constrain.json;

/**
 * Where a JSON text stands against a {@link JsonGrammar}: a set of pushdown stacks (more than one only while
 * anyOf alternatives or enum values are still undecided). Immutable: {@link #step} returns the state after one
 * more byte, or null when the grammar forbids that byte, and leaves this one as it was, so any number of
 * continuations can be explored from one state.
 */
public final class JsonMatcher {
    private final Stack[] stacks;

    private JsonMatcher(Stack[] stacks) {
        this.stacks = stacks;
    }

    static JsonMatcher start(JsonGrammar g) {
        // no whitespace before the value: what precedes it (a marker, </think>) is not JSON text to pad
        return new JsonMatcher(new Stack[] {Stack.push(new Frame.Value(g.root, Frame.MAX_WHITESPACE), Stack.END)});
    }

    /** The state after byte {@code b} (0-255), or null when it is not allowed here. */
    public JsonMatcher step(int b) {
        return step(b, new Out());
    }

    /** {@link #step} with caller-owned scratch space (the trie walk makes millions of steps). */
    JsonMatcher step(int b, Out out) {
        out.clear();
        for (Stack s : stacks) {
            s.feed(b, out);
        }
        if (out.size == 0) {
            return null;
        }
        return new JsonMatcher(java.util.Arrays.copyOf(out.stacks, out.size));
    }

    /** The state after all of {@code bytes}, or null when some byte is not allowed. */
    public JsonMatcher step(byte[] bytes) {
        JsonMatcher m = this;
        Out out = new Out();
        for (int i = 0; i < bytes.length && m != null; i++) {
            m = m.step(bytes[i] & 0xFF, out);
        }
        return m;
    }

    /** Whether the text so far is a whole value of the grammar (it may still go on: a number, say). */
    public boolean complete() {
        for (Stack s : stacks) {
            if (s.complete()) {
                return true;
            }
        }
        return false;
    }

    /** Whether the text so far is a whole value and nothing at all may follow it. */
    public boolean finished() {
        for (Stack s : stacks) {
            if (s.top() != null) {
                return false;
            }
        }
        return true;
    }

    /**
     * How many characters of plain text (no quote, backslash or control byte) this state takes for sure, or -1
     * when that is not known without walking: inside a string at a character boundary, the room maxLength leaves;
     * inside a key of an object that allows other keys, any amount.
     */
    int stringRoom() {
        // with several parses a plain token is allowed when one of them takes it: the largest room, provided every
        // parse is inside such a string (another kind of frame could take plain tokens the shortcut would skip)
        int room = -1;
        for (Stack st : stacks) {
            Frame top = st.top();
            if (top instanceof Frame.Str s && s.utf8() == 0 && s.escape() == 0) {
                room = Math.max(room, s.maxLength() - s.chars());
            } else if (top instanceof Frame.Key k && k.utf8() == 0 && k.spec().additional != null
                    && Frame.fitsMember(k.spec().additional, st.rest())) { // an additional key's value must fit too
                room = Integer.MAX_VALUE;
            } else {
                return -1;
            }
        }
        return room;
    }

    /** How many parses of the text so far are live (at most {@link Out#MAX_WIDTH}). */
    int width() {
        return stacks.length;
    }
}
