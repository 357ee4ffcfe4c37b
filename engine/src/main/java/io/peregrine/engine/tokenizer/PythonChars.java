package io.peregrine.engine.tokenizer;

/** Python's {@code str.isspace}, which the long-input guard uses; Java's own predicates each miss some of it. */
final class PythonChars {
    private PythonChars() {}

    /** Bidi class WS/B/S or category Zs, as CPython defines {@code isspace}. */
    static boolean isSpace(int cp) {
        if (cp < 128) {
            return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
        }
        return cp == 0x85 || Character.isSpaceChar(cp) || Character.isWhitespace(cp);
    }
}
