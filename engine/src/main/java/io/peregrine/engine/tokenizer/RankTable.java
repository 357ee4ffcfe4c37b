package io.peregrine.engine.tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * BPE ranks looked up by a slice of bytes without allocating: all token bytes live in one pool and an
 * open-addressing table maps a slice's hash to its rank. This is the merge loop's only data structure, which is why
 * it is flat.
 */
final class RankTable {
    private final byte[] pool;
    private final int[] offset;
    private final int[] length;
    private final int[] slots; // rank + 1, 0 = empty
    private final int mask;

    RankTable(List<byte[]> byRank) {
        int n = byRank.size();
        offset = new int[n];
        length = new int[n];
        int total = 0;
        for (byte[] b : byRank) {
            total += b.length;
        }
        pool = new byte[total];
        int pos = 0;
        for (int r = 0; r < n; r++) {
            byte[] b = byRank.get(r);
            offset[r] = pos;
            length[r] = b.length;
            System.arraycopy(b, 0, pool, pos, b.length);
            pos += b.length;
        }
        int cap = Integer.highestOneBit(Math.max(4, n * 3)) << 1; // load factor <= 1/3
        slots = new int[cap];
        mask = cap - 1;
        for (int r = 0; r < n; r++) {
            int i = hash(pool, offset[r], length[r]) & mask;
            while (slots[i] != 0) {
                if (equal(slots[i] - 1, pool, offset[r], length[r])) {
                    throw new TokenizerException("tiktoken.model lists the bytes of rank " + r + " twice (also rank "
                            + (slots[i] - 1) + ")");
                }
                i = (i + 1) & mask;
            }
            slots[i] = r + 1;
        }
    }

    /** Rank of {@code bytes[from, from+len)}, or -1 if those bytes are not a token. */
    int rank(byte[] bytes, int from, int len) {
        int i = hash(bytes, from, len) & mask;
        int s;
        while ((s = slots[i]) != 0) {
            if (equal(s - 1, bytes, from, len)) {
                return s - 1;
            }
            i = (i + 1) & mask;
        }
        return -1;
    }

    private boolean equal(int rank, byte[] bytes, int from, int len) {
        int o = offset[rank];
        return length[rank] == len && Arrays.equals(pool, o, o + len, bytes, from, from + len);
    }

    private static int hash(byte[] b, int from, int len) {
        int h = 0x9E3779B9 ^ len;
        for (int i = from, end = from + len; i < end; i++) {
            h = (h ^ b[i]) * 0x01000193;
        }
        // murmur3's finaliser: the table is indexed by the low bits, which the multiply alone leaves poorly mixed
        h ^= h >>> 16;
        h *= 0x85EBCA6B;
        h ^= h >>> 13;
        h *= 0xC2B2AE35;
        return h ^ (h >>> 16);
    }
}
