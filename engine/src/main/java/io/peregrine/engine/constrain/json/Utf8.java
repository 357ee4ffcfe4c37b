package io.peregrine.engine.constrain.json;

/** Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
final class Utf8 {
    private Utf8() {}

    /**
     * For a byte that starts a multi-byte character: the continuation bytes it needs and the range allowed for the
     * first of them, as {@code need << 16 | lo << 8 | hi}; -1 when the byte cannot start a character.
     */
    static int lead(int b) {
        if (b >= 0xC2 && b <= 0xDF) {
            return 1 << 16 | 0x80BF;
        }
        if (b == 0xE0) {
            return 2 << 16 | 0xA0BF;
        }
        if (b >= 0xE1 && b <= 0xEC || b == 0xEE || b == 0xEF) {
            return 2 << 16 | 0x80BF;
        }
        if (b == 0xED) {
            return 2 << 16 | 0x809F;
        }
        if (b == 0xF0) {
            return 3 << 16 | 0x90BF;
        }
        if (b >= 0xF1 && b <= 0xF3) {
            return 3 << 16 | 0x80BF;
        }
        if (b == 0xF4) {
            return 3 << 16 | 0x808F;
        }
        return -1;
    }
}
