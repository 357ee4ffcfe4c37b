package io.peregrine.engine.constrain;

import io.peregrine.engine.constrain.json.JsonVocabulary;
import java.util.function.IntFunction;

/**
 * The bytes of every regular (non-special) token, grouped by first byte, so a text-prefix constraint only looks
 * at the tokens that can continue the text instead of the whole vocabulary. Immutable; build once per tokenizer
 * and share between requests.
 */
public final class TokenBytesIndex {
    private final byte[][] bytes;
    private final int[][] byFirstByte;

    private TokenBytesIndex(byte[][] bytes, int[][] byFirstByte) {
        this.bytes = bytes;
        this.byFirstByte = byFirstByte;
    }

    /** @param regularTokens ids {@code 0..regularTokens-1} are ordinary BPE tokens */
    public static TokenBytesIndex of(IntFunction<byte[]> bytesOf, int regularTokens) {
        byte[][] bytes = new byte[regularTokens][];
        int[] counts = new int[256];
        for (int id = 0; id < regularTokens; id++) {
            byte[] b = bytesOf.apply(id);
            bytes[id] = b;
            if (b.length > 0) {
                counts[b[0] & 0xFF]++;
            }
        }
        int[][] byFirst = new int[256][];
        for (int f = 0; f < 256; f++) {
            byFirst[f] = new int[counts[f]];
            counts[f] = 0;
        }
        for (int id = 0; id < regularTokens; id++) {
            if (bytes[id].length > 0) {
                int f = bytes[id][0] & 0xFF;
                byFirst[f][counts[f]++] = id;
            }
        }
        return new TokenBytesIndex(bytes, byFirst);
    }

    private volatile JsonVocabulary json;

    /** The vocabulary as the JSON constraint walks it, built on first use (a few hundred ms) and then shared. */
    public JsonVocabulary json() {
        JsonVocabulary j = json;
        if (j == null) {
            synchronized (this) {
                j = json;
                if (j == null) {
                    j = JsonVocabulary.of(id -> bytes[id], bytes.length);
                    json = j;
                }
            }
        }
        return j;
    }

    public int regularTokens() {
        return bytes.length;
    }

    /** The token's bytes; callers must not modify them. */
    byte[] bytes(int id) {
        return bytes[id];
    }

    /** Regular token ids whose bytes start with {@code firstByte} (0..255); callers must not modify the array. */
    int[] startingWith(int firstByte) {
        return byFirstByte[firstByte];
    }
}
