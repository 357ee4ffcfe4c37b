package io.peregrine.engine.constrain.json;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The vocabulary seen by the JSON constraint: which regular tokens a {@link JsonMatcher} state accepts. Immutable;
 * build once per tokenizer (a few hundred milliseconds for 163,840 tokens) and share.
 *
 * <p>Most of a JSON text's tokens are string content, where nearly every token is allowed. Walking the whole
 * trie for that would visit every node, so tokens that are plain string text (no quote, backslash or control
 * byte; whole UTF-8 characters) are kept apart, sorted by length in characters: inside a string they are allowed
 * wholesale up to the room maxLength leaves, and only the rest is walked.
 */
public final class JsonVocabulary {
    private final int regularTokens;
    private final TokenTrie all;
    private final TokenTrie notPlain;
    private final int[] plainIds; // sorted by plainChars
    private final int[] plainChars;

    private JsonVocabulary(int regularTokens, TokenTrie all, TokenTrie notPlain, int[] plainIds, int[] plainChars) {
        this.regularTokens = regularTokens;
        this.all = all;
        this.notPlain = notPlain;
        this.plainIds = plainIds;
        this.plainChars = plainChars;
    }

    /** @param regularTokens ids {@code 0..regularTokens-1} are ordinary BPE tokens; special tokens are never JSON */
    public static JsonVocabulary of(IntFunction<byte[]> bytesOf, int regularTokens) {
        int[] ids = new int[regularTokens];
        List<long[]> plain = new ArrayList<>();
        List<Integer> other = new ArrayList<>();
        for (int id = 0; id < regularTokens; id++) {
            ids[id] = id;
            int chars = plainChars(bytesOf.apply(id));
            if (chars > 0) {
                plain.add(new long[] {chars, id});
            } else {
                other.add(id);
            }
        }
        plain.sort((a, b) -> Long.compare(a[0], b[0]));
        int[] plainIds = new int[plain.size()];
        int[] plainCount = new int[plain.size()];
        for (int i = 0; i < plainIds.length; i++) {
            plainCount[i] = (int) plain.get(i)[0];
            plainIds[i] = (int) plain.get(i)[1];
        }
        return new JsonVocabulary(regularTokens, TokenTrie.of(bytesOf, ids),
                TokenTrie.of(bytesOf, other.stream().mapToInt(Integer::intValue).toArray()), plainIds, plainCount);
    }

    /** Characters in a token that is plain string content, or 0 when it is not. */
    static int plainChars(byte[] b) {
        if (b.length == 0) {
            return 0;
        }
        int chars = 0;
        for (int i = 0; i < b.length; ) {
            int c = b[i] & 0xFF;
            if (c < 0x20 || c == '"' || c == '\\') {
                return 0;
            }
            if (c < 0x80) {
                i++;
            } else {
                int lead = Utf8.lead(c);
                if (lead < 0) {
                    return 0;
                }
                int need = lead >>> 16;
                int lo = lead >>> 8 & 0xFF;
                int hi = lead & 0xFF;
                if (i + need >= b.length) {
                    return 0; // the character is cut off by the token's end
                }
                for (int k = 1; k <= need; k++) {
                    int x = b[i + k] & 0xFF;
                    if (x < lo || x > hi) {
                        return 0;
                    }
                    lo = 0x80;
                    hi = 0xBF;
                }
                i += need + 1;
            }
            chars++;
        }
        return chars;
    }

    public int regularTokens() {
        return regularTokens;
    }

    /** Sets the bit (in {@code bits}, one per regular token) of every token the state can take next. */
    public void allowed(JsonMatcher state, long[] bits) {
        work(state, bits);
    }

    /** {@link #allowed}, returning the matcher stacks offered along the way (its cost, for tests to bound). */
    long work(JsonMatcher state, long[] bits) {
        int room = state.stringRoom();
        if (room < 0) {
            return all.walk(state, bits);
        }
        for (int i = 0; i < plainIds.length && plainChars[i] <= room; i++) {
            int t = plainIds[i];
            bits[t >>> 6] |= 1L << t;
        }
        return plainIds.length + notPlain.walk(state, bits);
    }

    /** For tests: the tokens {@link #allowed} marks, by testing each token alone (slow). */
    long[] allowedOneByOne(JsonMatcher state, IntFunction<byte[]> bytesOf) {
        long[] bits = new long[(regularTokens + 63) >>> 6];
        for (int t = 0; t < regularTokens; t++) {
            byte[] b = bytesOf.apply(t);
            if (b.length > 0 && state.step(b) != null) {
                bits[t >>> 6] |= 1L << t;
            }
        }
        return bits;
    }
}
