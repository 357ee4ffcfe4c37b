package io.peregrine.engine.constrain.json;

/**
 * One level of a JSON value being matched, byte by byte. Frames are immutable: {@link #feed} adds the stacks the
 * byte leads to and changes nothing. Whitespace between tokens is bounded ({@link #MAX_WHITESPACE} bytes per gap):
 * enough for {@code json.dumps}-style {@code ", "} and {@code ": "} or a line break, not for indentation. Unbounded
 * whitespace would let a weak or unlucky model write blanks forever without the value ever closing, and the cut
 * at max_tokens would then leave invalid JSON.
 */
sealed interface Frame {
    int MAX_WHITESPACE = 1;
    /** Container levels (one stack frame each; a leaf adds one more frame, unchecked). */
    int MAX_DEPTH = 64;
    /** Longest number, in bytes (precision ends long before; an endless digit run is a loop). */
    int MAX_NUMBER = 32;

    void feed(int b, Stack rest, Out out);

    default boolean canEnd() {
        return false;
    }

    static boolean whitespace(int b) {
        return b == ' ' || b == '\n' || b == '\t' || b == '\r';
    }

    /** Starts a value of {@code node} with its first (non-whitespace) byte. */
    static void start(Node node, int b, Stack rest, Out out) {
        if (!node.satisfiable) {
            return;
        }
        switch (node) {
            case Node.Ref r -> start(r.target, b, rest, out);
            case Node.AnyOf a -> {
                for (Node alt : a.alternatives) {
                    start(alt, b, rest, out);
                }
            }
            case Node.Literals l -> new Literal(l.options, null, 0).feed(b, rest, out);
            case Node.Typed t -> {
                switch (b) {
                    case '{' -> {
                        if (t.object != null && rest.depth() + (long) t.objectNest <= MAX_DEPTH) {
                            out.add(Stack.push(new KeyStart(t.object, 0L, 0, true), rest));
                        }
                    }
                    case '[' -> {
                        if (t.array != null && rest.depth() + (long) t.arrayNest <= MAX_DEPTH) {
                            out.add(Stack.push(new ArrayOpen(t.array, 0), rest));
                        }
                    }
                    case '"' -> {
                        if (t.string != null) {
                            out.add(Stack.push(new Str(t.string.minLength(), t.string.maxLength(), 0, 0, 0, 0), rest));
                        }
                    }
                    case 't' -> {
                        if (t.allowBool) {
                            out.add(Stack.push(new Word(Word.TRUE, 1), rest));
                        }
                    }
                    case 'f' -> {
                        if (t.allowBool) {
                            out.add(Stack.push(new Word(Word.FALSE, 1), rest));
                        }
                    }
                    case 'n' -> {
                        if (t.allowNull) {
                            out.add(Stack.push(new Word(Word.NULL, 1), rest));
                        }
                    }
                    default -> {
                        if (t.number > 0 && (b == '-' || b >= '0' && b <= '9')) {
                            new Num(t.number == 1, 0, 0).feed(b, rest, out);
                        }
                    }
                }
            }
        }
    }

    /** Before a value: whitespace, then its first byte. */
    record Value(Node node, int ws) implements Frame {
        @Override
        public void feed(int b, Stack rest, Out out) {
            if (whitespace(b)) {
                if (ws < MAX_WHITESPACE) {
                    out.add(Stack.push(new Value(node, ws + 1), rest));
                }
                return;
            }
            start(node, b, rest, out);
        }
    }

    /** true / false / null after its first byte. */
    record Word(byte[] text, int pos) implements Frame {
        static final byte[] TRUE = {'t', 'r', 'u', 'e'};
        static final byte[] FALSE = {'f', 'a', 'l', 's', 'e'};
        static final byte[] NULL = {'n', 'u', 'l', 'l'};

        @Override
        public void feed(int b, Stack rest, Out out) {
            if (text[pos] == (byte) b) {
                out.add(pos + 1 == text.length ? rest : Stack.push(new Word(text, pos + 1), rest));
            }
        }
    }

    /**
     * One of several canonical JSON texts (enum, const). {@code candidates} null means all options; a number that
     * could still go on ends at the first byte that continues no option, which is then the parent's.
     */
    record Literal(byte[][] options, int[] candidates, int pos) implements Frame {
        @Override
        public void feed(int b, Stack rest, Out out) {
            int n = candidates == null ? options.length : candidates.length;
            int[] next = new int[n];
            int kept = 0;
            boolean allEnd = true;
            for (int i = 0; i < n; i++) {
                int o = candidates == null ? i : candidates[i];
                byte[] opt = options[o];
                if (opt.length > pos && opt[pos] == (byte) b) {
                    next[kept++] = o;
                    allEnd &= opt.length == pos + 1;
                }
            }
            if (canEnd()) {
                rest.feed(b, out);
            }
            if (kept > 0) {
                out.add(allEnd ? rest : Stack.push(new Literal(options, java.util.Arrays.copyOf(next, kept), pos + 1), rest));
            }
        }

        @Override
        public boolean canEnd() {
            if (candidates == null) {
                return false;
            }
            for (int o : candidates) {
                if (options[o].length == pos) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * A JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, integers without fraction or exponent. States:
     * 0 start, 1 after '-', 2 a leading 0, 3 integer digits, 4 after '.', 5 fraction digits, 6 after 'e', 7 after
     * the exponent sign, 8 exponent digits. It ends at the first byte that cannot continue it, which goes to the
     * parent.
     */
    record Num(boolean integer, int state, int length) implements Frame {
        @Override
        public void feed(int b, Stack rest, Out out) {
            int next = next(b);
            // within MAX_NUMBER bytes the number must still be able to end: '1e' at the limit would be a dead end
            if (next >= 0 && length + 1 + (accepting(next) ? 0 : 1) <= MAX_NUMBER) {
                out.add(Stack.push(new Num(integer, next, length + 1), rest));
            } else if (canEnd()) {
                rest.feed(b, out);
            }
        }

        private int next(int b) {
            boolean digit = b >= '0' && b <= '9';
            return switch (state) {
                case 0 -> b == '-' ? 1 : b == '0' ? 2 : digit ? 3 : -1;
                case 1 -> b == '0' ? 2 : digit ? 3 : -1;
                case 2 -> integer ? -1 : b == '.' ? 4 : b == 'e' || b == 'E' ? 6 : -1;
                case 3 -> digit ? 3 : integer ? -1 : b == '.' ? 4 : b == 'e' || b == 'E' ? 6 : -1;
                case 4 -> digit ? 5 : -1;
                case 5 -> digit ? 5 : b == 'e' || b == 'E' ? 6 : -1;
                case 6 -> b == '+' || b == '-' ? 7 : digit ? 8 : -1;
                case 7, 8 -> digit ? 8 : -1;
                default -> -1;
            };
        }

        @Override
        public boolean canEnd() {
            return accepting(state);
        }

        private static boolean accepting(int state) {
            return state == 2 || state == 3 || state == 5 || state == 8;
        }
    }

    /**
     * Inside a string value. Lengths count code points (an escape is one, a surrogate pair escape too); raw UTF-8
     * must be well formed, so a token that ends inside a character leaves {@code utf8} expecting its continuation
     * bytes. A {@code \\u} escape of a high surrogate must be followed by one of a low surrogate (as
     * {@code json.dumps} writes emoji); a lone surrogate is refused digit by digit, so no prefix is a dead end.
     *
     * @param utf8   continuation bytes still expected (0-3)
     * @param range  the allowed range of the next continuation byte, {@code lo << 8 | hi}
     * @param escape 0 none, 1 after a backslash, 2-5 inside {@code \\uXXXX} (hex digits read + 2), 6 after a high
     *               surrogate (a backslash must follow), 7 its 'u', 8-11 the low surrogate's digits
     * @param hex    the escape's hex value so far
     */
    record Str(int minLength, int maxLength, int chars, int utf8, int range, int escape, int hex) implements Frame {
        Str(int minLength, int maxLength, int chars, int utf8, int range, int escape) {
            this(minLength, maxLength, chars, utf8, range, escape, 0);
        }

        @Override
        public void feed(int b, Stack rest, Out out) {
            Str next = step(b);
            if (next == CLOSED) {
                out.add(rest);
            } else if (next != null) {
                out.add(Stack.push(next, rest));
            }
        }

        private static final Str CLOSED = new Str(0, 0, 0, 0, 0, 0);

        private Str with(int escape, int hex) {
            return new Str(minLength, maxLength, chars, 0, 0, escape, hex);
        }

        private Str step(int b) {
            if (utf8 > 0) {
                if (b < (range >>> 8) || b > (range & 0xFF)) {
                    return null;
                }
                return new Str(minLength, maxLength, chars, utf8 - 1, 0x80BF, 0);
            }
            if (escape == 1) {
                return switch (b) {
                    case '"', '\\', '/', 'b', 'f', 'n', 'r', 't' -> with(0, 0);
                    case 'u' -> with(2, 0);
                    default -> null;
                };
            }
            if (escape >= 2 && escape <= 5) {
                int d = Character.digit(b, 16);
                if (d < 0 || escape == 3 && hex == 0xD && d >= 0xC) {
                    return null; // \\uDC00-\\uDFFF: a low surrogate without its high one
                }
                int v = hex << 4 | d;
                if (escape < 5) {
                    return with(escape + 1, v);
                }
                return v >= 0xD800 && v <= 0xDBFF ? with(6, 0) : with(0, 0);
            }
            if (escape == 6) {
                return b == '\\' ? with(7, 0) : null;
            }
            if (escape == 7) {
                return b == 'u' ? with(8, 0) : null;
            }
            if (escape >= 8) {
                int d = Character.digit(b, 16);
                if (d < 0 || escape == 8 && d != 0xD || escape == 9 && d < 0xC) {
                    return null; // only \\uDC00-\\uDFFF completes the pair
                }
                return escape == 11 ? with(0, 0) : with(escape + 1, 0);
            }
            if (b == '"') {
                return chars >= minLength ? CLOSED : null;
            }
            if (b < 0x20 || chars >= maxLength) {
                return null;
            }
            if (b == '\\') {
                return new Str(minLength, maxLength, chars + 1, 0, 0, 1);
            }
            if (b < 0x80) {
                return new Str(minLength, maxLength, chars + 1, 0, 0, 0);
            }
            int lead = Utf8.lead(b);
            return lead < 0 ? null : new Str(minLength, maxLength, chars + 1, lead >>> 16, lead & 0xFFFF, 0);
        }
    }

    /**
     * Before a key: whitespace, then its opening quote; right after '{' ({@code first}) the object may also close.
     *
     * @param seen the declared properties already written
     */
    record KeyStart(Node.ObjectSpec spec, long seen, int ws, boolean first) implements Frame {
        @Override
        public void feed(int b, Stack rest, Out out) {
            if (whitespace(b)) {
                if (ws < MAX_WHITESPACE) {
                    out.add(Stack.push(new KeyStart(spec, seen, ws + 1, first), rest));
                }
            } else if (b == '"') {
                if (moreKeys(spec, seen, rest)) {
                    out.add(Stack.push(new Key(spec, seen, 0, 0, 0), rest));
                }
            } else if (b == '}' && first && spec.required == 0) {
                out.add(rest);
            }
        }
    }

    static boolean moreKeys(Node.ObjectSpec spec, long seen, Stack rest) {
        return spec.additional != null && fitsMember(spec.additional, rest) || (fitting(spec, rest) & ~seen) != 0;
    }

    /**
     * Whether a member value of {@code node} in an object (or an item in an array) whose continuation is
     * {@code rest} can still close within {@link #MAX_DEPTH}: its value sits one frame above.
     */
    static boolean fitsMember(Node node, Stack rest) {
        return rest.depth() + 1 + (long) node.nest <= MAX_DEPTH;
    }

    /** The declared properties that may still be written here: satisfiable, and closable within the limit. */
    static long fitting(Node.ObjectSpec spec, Stack rest) {
        if (rest.depth() + 1 + (long) spec.deepest <= MAX_DEPTH) {
            return spec.viable;
        }
        long fit = 0;
        for (int p = 0; p < spec.properties.length; p++) {
            if ((spec.viable >>> p & 1) != 0 && fitsMember(spec.properties[p], rest)) {
                fit |= 1L << p;
            }
        }
        return fit;
    }

    /**
     * Inside a key. With additionalProperties false it must become an unwritten declared name (the name trie
     * guides it); otherwise any string, but a declared name takes its own schema and may not repeat. Escapes are
     * not allowed in keys, so a declared name is recognised by its bytes.
     *
     * @param trie state in the names' trie, -1 once the key is no declared name
     */
    record Key(Node.ObjectSpec spec, long seen, int trie, int utf8, int range) implements Frame {
        @Override
        public void feed(int b, Stack rest, Out out) {
            NameTrie names = spec.names();
            if (utf8 > 0) {
                if (b < (range >>> 8) || b > (range & 0xFF)) {
                    return;
                }
                int t = trie < 0 ? -1 : names.next(trie, b);
                if (admissible(names, t, rest)) {
                    out.add(Stack.push(new Key(spec, seen, t, utf8 - 1, 0x80BF), rest));
                }
                return;
            }
            if (b == '"') {
                int p = trie < 0 ? -1 : names.terminal(trie);
                if (p >= 0) {
                    if ((seen >>> p & 1) == 0 && (fitting(spec, rest) >>> p & 1) != 0) {
                        out.add(Stack.push(new Colon(spec, seen | 1L << p, spec.properties[p], 0), rest));
                    }
                } else if (spec.additional != null && fitsMember(spec.additional, rest)) {
                    out.add(Stack.push(new Colon(spec, seen, spec.additional, 0), rest));
                }
                return;
            }
            if (b < 0x20 || b == '\\') {
                return;
            }
            int lead = b < 0x80 ? 0 : Utf8.lead(b);
            if (lead < 0) {
                return;
            }
            int t = trie < 0 ? -1 : names.next(trie, b);
            if (admissible(names, t, rest)) {
                out.add(Stack.push(new Key(spec, seen, t, lead >>> 16, lead & 0xFFFF), rest));
            }
        }

        private boolean admissible(NameTrie names, int t, Stack rest) {
            return spec.additional != null && fitsMember(spec.additional, rest)
                    || t >= 0 && (names.below(t) & fitting(spec, rest) & ~seen) != 0;
        }
    }

    /** After a key: whitespace, ':' and then the property's value. */
    record Colon(Node.ObjectSpec spec, long seen, Node value, int ws) implements Frame {
        @Override
        public void feed(int b, Stack rest, Out out) {
            if (whitespace(b)) {
                if (ws < MAX_WHITESPACE) {
                    out.add(Stack.push(new Colon(spec, seen, value, ws + 1), rest));
                }
            } else if (b == ':') {
                out.add(Stack.push(new Value(value, 0), Stack.push(new AfterMember(spec, seen, 0), rest)));
            }
        }
    }

    /** After a property's value: ',' and another key, or '}' once every required property is there. */
    record AfterMember(Node.ObjectSpec spec, long seen, int ws) implements Frame {
        @Override
        public void feed(int b, Stack rest, Out out) {
            if (whitespace(b)) {
                if (ws < MAX_WHITESPACE) {
                    out.add(Stack.push(new AfterMember(spec, seen, ws + 1), rest));
                }
            } else if (b == ',') {
                if (moreKeys(spec, seen, rest)) {
                    out.add(Stack.push(new KeyStart(spec, seen, 0, false), rest));
                }
            } else if (b == '}' && (spec.required & ~seen) == 0) {
                out.add(rest);
            }
        }
    }

    /** Right after '[': whitespace, ']' when empty arrays are allowed, or the first item. */
    record ArrayOpen(Node.ArraySpec spec, int ws) implements Frame {
        @Override
        public void feed(int b, Stack rest, Out out) {
            if (whitespace(b)) {
                if (ws < MAX_WHITESPACE) {
                    out.add(Stack.push(new ArrayOpen(spec, ws + 1), rest));
                }
            } else if (b == ']') {
                if (spec.minItems == 0) {
                    out.add(rest);
                }
            } else if (spec.maxItems > 0 && fitsMember(spec.item(0), rest)) {
                start(spec.item(0), b, Stack.push(new AfterItem(spec, 1, 0), rest), out);
            }
        }
    }

    /** After {@code count} items: ',' and the next while below maxItems, ']' from minItems on. */
    record AfterItem(Node.ArraySpec spec, int count, int ws) implements Frame {
        @Override
        public void feed(int b, Stack rest, Out out) {
            if (whitespace(b)) {
                if (ws < MAX_WHITESPACE) {
                    out.add(Stack.push(new AfterItem(spec, count, ws + 1), rest));
                }
            } else if (b == ',') {
                if (count < spec.maxItems && fitsMember(spec.item(count), rest)) {
                    out.add(Stack.push(new Value(spec.item(count), 0),
                            Stack.push(new AfterItem(spec, count + 1, 0), rest)));
                }
            } else if (b == ']' && count >= spec.minItems) {
                out.add(rest);
            }
        }
    }
}
