package io.peregrine.engine.kv;

/**
 * The chained 64-bit key of a full cache block: it mixes the previous block's key, the block's token ids and
 * the hash of any media content inside it, so equal keys mean (up to collisions, which the block manager
 * rules out by comparing tokens) equal whole prefixes. Hand-written because the mix is a dozen lines and the
 * key never leaves the process; a library (xxhash) would add a dependency for no gain.
 */
public final class PrefixHash {
    /** Key of the (empty) prefix before block 0. */
    public static final long ROOT = 0x9E3779B97F4A7C15L;
    /** Media hash of a block with no media in it. */
    public static final long NO_MEDIA = 0L;

    private PrefixHash() {}

    public static long of(long parent, int[] tokens, int from, int count, long mediaHash) {
        long h = mix(parent ^ 0xC2B2AE3D27D4EB4FL) + count;
        for (int i = from; i < from + count; i++) {
            h = mix(h ^ (tokens[i] & 0xFFFFFFFFL)) * 0x100000001B3L;
        }
        return mix(h ^ mix(mediaHash + 0x165667B19E3779F9L));
    }

    // splitmix64's finaliser: a full-avalanche 64-bit permutation
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
