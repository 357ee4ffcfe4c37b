package io.peregrine.engine.constrain;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The call ids a constrained tool call may write between {@code <|tool_call_begin|>} and
 * {@code <|tool_call_argument_begin|>}: {@code functions.NAME:IDX} for one of the allowed names, with either a
 * fixed IDX or one to {@value #MAX_FREE_DIGITS} free digits. Works on bytes, so it does not care how BPE splits
 * the id: the constraint allows any token whose bytes keep the text a prefix of some allowed id.
 */
final class CallIdLanguage {
    static final int MAX_FREE_DIGITS = 6;

    private final byte[][] heads; // "functions.NAME:" per allowed name
    private final byte[] fixedIndex; // null: free digits

    /** @param fixedIndex null: any 1..6 digits */
    CallIdLanguage(List<String> names, Integer fixedIndex) {
        if (names.isEmpty()) {
            throw new IllegalArgumentException("no function names to constrain the call id to");
        }
        heads = new byte[names.size()][];
        for (int i = 0; i < names.size(); i++) {
            heads[i] = ("functions." + names.get(i) + ":").getBytes(StandardCharsets.UTF_8);
        }
        this.fixedIndex = fixedIndex == null ? null : Integer.toString(fixedIndex).getBytes(StandardCharsets.US_ASCII);
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
            if (fixedIndex == null ? digits >= 1 : digits == fixedIndex.length) {
                return true;
            }
        }
        return false;
    }

    private static final byte[] EMPTY = new byte[0];

    private boolean viable(byte[] head, byte[] text, int len, byte[] extra) {
        int total = len + extra.length;
        int tailMax = fixedIndex == null ? MAX_FREE_DIGITS : fixedIndex.length;
        if (total > head.length + tailMax) {
            return false;
        }
        for (int i = 0; i < total; i++) {
            byte b = i < len ? text[i] : extra[i - len];
            if (i < head.length) {
                if (b != head[i]) {
                    return false;
                }
            } else if (fixedIndex != null ? b != fixedIndex[i - head.length] : b < '0' || b > '9') {
                return false;
            }
        }
        return true;
    }
}
