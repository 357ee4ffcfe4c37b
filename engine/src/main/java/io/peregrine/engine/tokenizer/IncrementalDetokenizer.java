package io.peregrine.engine.tokenizer;

import java.util.Arrays;

/**
 * Turns a stream of token ids into text that never changes once returned: bytes of a multi-byte UTF-8 character
 * that is still incomplete are held back until the character is complete (or proven invalid). The concatenation
 * of everything returned, plus {@link #flush()}, equals {@link KimiTokenizer#decode} of all ids (with
 * {@code skipSpecial} off). Not thread-safe: one per sequence.
 */
public final class IncrementalDetokenizer {
    private final KimiTokenizer tokenizer; // null: bytes come from {@link #source}
    private final TokenBytes source;
    private final boolean skipSpecial;
    private byte[] pending = new byte[16];
    private int pendingLen;

    /**
     * @param skipSpecial drop tokens whose Hugging Face {@code special} flag is set, like
     *                    {@code skip_special_tokens=True} (tool-call markers and think tags are kept)
     */
    public IncrementalDetokenizer(KimiTokenizer tokenizer, boolean skipSpecial) {
        this.tokenizer = tokenizer;
        this.source = null;
        this.skipSpecial = skipSpecial;
    }

    /** Over any source of token bytes; every token's bytes count (the caller decides what to leave out). */
    public IncrementalDetokenizer(TokenBytes source) {
        this.tokenizer = null;
        this.source = source;
        this.skipSpecial = false;
    }

    /** Adds one token; returns the text that became stable (often empty mid-character). */
    public String push(int id) {
        if (skipSpecial && tokenizer.isSpecial(id) && tokenizer.special(id).hfSpecial()) {
            return "";
        }
        byte[] b = tokenizer != null ? tokenizer.tokenBytesView(id) : source.bytes(id);
        if (pendingLen + b.length > pending.length) {
            pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLen + b.length));
        }
        System.arraycopy(b, 0, pending, pendingLen, b.length);
        pendingLen += b.length;
        int stable = Utf8.completePrefixEnd(pending, 0, pendingLen);
        if (stable == 0) {
            return "";
        }
        String text = Utf8.decodeReplacing(pending, 0, stable);
        System.arraycopy(pending, stable, pending, 0, pendingLen - stable);
        pendingLen -= stable;
        return text;
    }

    /** Adds several tokens; returns the text that became stable. */
    public String push(int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            sb.append(push(id));
        }
        return sb.toString();
    }

    /** True while bytes of an incomplete character are held back. */
    public boolean hasPending() {
        return pendingLen > 0;
    }

    /** Ends the stream: held-back bytes become U+FFFD. */
    public String flush() {
        String text = pendingLen == 0 ? "" : Utf8.decodeReplacing(pending, 0, pendingLen);
        pendingLen = 0;
        return text;
    }
}
