package io.peregrine.engine.constrain;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The call ids a constrained tool call may write between {@code <|tool_call_begin|>} and
 * {@code <|tool_call_argument_begin|>}: {@code functions.NAME:IDX} for one of the allowed names and the one IDX
 * this call must have (Kimi numbers calls across the conversation). Works on bytes, so it does not care how BPE
 * splits the id: the constraint allows any token whose bytes keep the text a prefix of some allowed id.
 */
final class CallIdLanguage {
    private final byte[][] heads; // "functions.NAME:" per allowed name
    private final byte[] fixedIndex;

    CallIdLanguage(List<String> names, int fixedIndex) {
        if (names.isEmpty()) {
            throw new IllegalArgumentException("no function names to constrain the call id to");
        }
        heads = new byte[names.size()][];
        for (int i = 0; i < names.size(); i++) {
            heads[i] = ("functions." + names.get(i) + ":").getBytes(StandardCharsets.UTF_8);
        }
        this.fixedIndex = Integer.toString(fixedIndex).getBytes(StandardCharsets.US_ASCII);
    }

    /** Whether {@code text[0..len) + extra} is a prefix of an allowed id (an allowed id itself included). */
    boolean viable(byte[] text, int len, byte[] extra) {
        for (byte[] head : heads) {
            if (viable(head, text, len, extra)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code text[0..len)} is a whole allowed id. */
    boolean complete(byte[] text, int len) {
        for (byte[] head : heads) {
            if (len <= head.length || !viable(head, text, len, EMPTY)) {
                continue;
            }
            int digits = len - head.length;
            if (digits == fixedIndex.length) {
                return true;
            }
        }
        return false;
    }

    private static final byte[] EMPTY = new byte[0];

    private boolean viable(byte[] head, byte[] text, int len, byte[] extra) {
        int total = len + extra.length;
        if (total > head.length + fixedIndex.length) {
            return false;
        }
        for (int i = 0; i < total; i++) {
            byte b = i < len ? text[i] : extra[i - len];
            if (i < head.length) {
                if (b != head[i]) {
                    return false;
                }
            } else if (b != fixedIndex[i - head.length]) {
                return false;
            }
        }
        return true;
    }
}
