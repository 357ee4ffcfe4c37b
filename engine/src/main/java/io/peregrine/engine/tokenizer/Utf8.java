package io.peregrine.engine.tokenizer;

import java.nio.ByteBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** UTF-8 helpers for decoding token bytes. */
final class Utf8 {
    private Utf8() {}

    /** Decodes {@code bytes[from..to)} ({@code to < 0}: to the end) replacing malformed input with U+FFFD. */
    static String decodeReplacing(byte[] bytes, int from, int to) {
        int end = to < 0 ? bytes.length : to;
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        try {
            return d.decode(ByteBuffer.wrap(bytes, from, end - from)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalStateException("REPLACE decoder threw", e); // cannot happen with REPLACE
        }
    }

    /**
     * Length of the longest prefix of {@code bytes[from..to)} that does not end inside an incomplete (but so far
     * valid) multi-byte sequence: bytes after it may still become a character when more bytes arrive.
     */
    static int completePrefixEnd(byte[] bytes, int from, int to) {
        // Look back at most 3 bytes for a lead byte whose sequence is not complete yet.
        for (int back = 1; back <= 3 && to - back >= from; back++) {
            int b = bytes[to - back] & 0xFF;
            if ((b & 0xC0) == 0x80) {
                continue; // continuation byte, keep looking for the lead
            }
            int need = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1;
            if (need > back && need > 1) {
                // Only hold back if the partial sequence is valid so far (Java's decoder and Python's agree on
                // maximal subparts; an invalid prefix is replaced now, not later).
                return validPartial(bytes, to - back, to) ? to - back : to;
            }
            return to;
        }
        return to;
    }

    private static boolean validPartial(byte[] bytes, int lead, int to) {
        int b0 = bytes[lead] & 0xFF;
        for (int i = lead + 1; i < to; i++) {
            int b = bytes[i] & 0xFF;
            int lo = 0x80, hi = 0xBF;
            if (i == lead + 1) {
                if (b0 == 0xE0) lo = 0xA0;
                else if (b0 == 0xED) hi = 0x9F;
                else if (b0 == 0xF0) lo = 0x90;
                else if (b0 == 0xF4) hi = 0x8F;
            }
            if (b < lo || b > hi) {
                return false;
            }
        }
        return true;
    }
}
