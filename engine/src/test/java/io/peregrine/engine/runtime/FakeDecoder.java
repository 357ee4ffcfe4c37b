package io.peregrine.engine.runtime;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Token texts for the fake model's vocabulary: letters, a few words, and tokens that carry only part of a
 * UTF-8 character so text must be decoded across token boundaries.
 */
final class FakeDecoder implements TokenDecoder {
    static final int E_ACUTE_LEAD = 52;   // 0xC3, first byte of "é"
    static final int E_ACUTE_TAIL = 53;   // 0xA9
    static final int EURO = 54;           // "€" whole
    static final int EURO_HEAD = 55;      // first two bytes of "€"
    static final int EURO_TAIL = 56;      // its last byte
    static final int SPECIAL = 62;        // "<|x|>"
    static final int NEWLINE = 63;

    @Override
    public byte[] bytes(int id) {
        byte[] euro = "€".getBytes(StandardCharsets.UTF_8);
        return switch (id) {
            case E_ACUTE_LEAD -> new byte[] {(byte) 0xC3};
            case E_ACUTE_TAIL -> new byte[] {(byte) 0xA9};
            case EURO -> euro;
            case EURO_HEAD -> Arrays.copyOf(euro, 2);
            case EURO_TAIL -> new byte[] {euro[2]};
            case SPECIAL -> "<|x|>".getBytes(StandardCharsets.US_ASCII);
            case NEWLINE -> new byte[] {'\n'};
            default -> (id < 26 ? String.valueOf((char) ('a' + id)) : " " + (char) ('a' + id - 26))
                    .getBytes(StandardCharsets.US_ASCII);
        };
    }

    @Override
    public boolean isSpecial(int id) {
        return id == SPECIAL;
    }

    /** The text of a token run decoded in one go: what the streamed pieces must add up to. */
    String decode(int[] ids) {
        var out = new java.io.ByteArrayOutputStream();
        for (int id : ids) {
            out.writeBytes(bytes(id));
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
