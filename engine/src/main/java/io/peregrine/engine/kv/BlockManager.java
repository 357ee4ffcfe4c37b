package io.peregrine.engine.kv;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * Bookkeeping of the paged cache's blocks: reference counts, and the prefix cache.
 *
 * <p>A full block is published under its {@link PrefixHash chained key}; a later sequence whose prompt starts
 * with the same tokens (and media) takes a reference to it instead of recomputing it. A hit is verified by
 * comparing the block's tokens, media hash and parent key, so a hash collision can never serve wrong latents.
 * When its last reference goes, a published block stays in the cache, unreferenced but revivable, until a
 * fresh block is needed and it is the least recently freed one (LRU). Blocks with no content worth keeping are
 * handed out first. Partial blocks are never published; a sequence only ever writes positions past its shared
 * blocks, so shared blocks are read-only and need no copy-on-write except for {@link #fork}.
 *
 * <p>Not thread-safe: the engine thread owns it.
 */
public final class BlockManager {
    private final int blockSize;
    private final int numBlocks;
    private final int[] refCount;
    private final boolean[] keyed;
    private final long[] key;
    private final long[] parentKey;
    private final long[] media;
    private final int[][] tokens;
    private final Map<Long, Integer> cached = new HashMap<>();
    private final ArrayDeque<Integer> freeFresh = new ArrayDeque<>();
    // Unreferenced published blocks, least recently freed first.
    private final LinkedHashSet<Integer> freeCached = new LinkedHashSet<>();

    public BlockManager(int numBlocks, int blockSize) {
        if (numBlocks <= 0 || blockSize <= 0) {
            throw new IllegalArgumentException("need at least one block of at least one slot, got " + numBlocks
                    + " blocks of " + blockSize);
        }
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.refCount = new int[numBlocks];
        this.keyed = new boolean[numBlocks];
        this.key = new long[numBlocks];
        this.parentKey = new long[numBlocks];
        this.media = new long[numBlocks];
        this.tokens = new int[numBlocks][];
        for (int b = 0; b < numBlocks; b++) {
            freeFresh.add(b);
        }
    }

    public int blockSize() {
        return blockSize;
    }

    public int totalBlocks() {
        return numBlocks;
    }

    /** Blocks that can be handed out now: never used, or cached but unreferenced (evictable). */
    public int freeBlocks() {
        return freeFresh.size() + freeCached.size();
    }

    /** Blocks referenced by at least one sequence. */
    public int usedBlocks() {
        return numBlocks - freeBlocks();
    }

    /** Published blocks, referenced or not. */
    public int cachedBlocks() {
        return cached.size();
    }

    public int refCount(int block) {
        return refCount[block];
    }

    /** Blocks that cover {@code positions} positions. */
    public int blocksFor(int positions) {
        return (positions + blockSize - 1) / blockSize;
    }

    /**
     * The longest run of published blocks that equals the start of {@code ids}, using only blocks wholly inside
     * the first {@code maxTokens} tokens. Takes no references.
     *
     * @param mediaHashes per block index, the hash of the media content in it; null when there is none
     */
    public int[] lookup(int[] ids, int maxTokens, long[] mediaHashes) {
        int full = Math.min(maxTokens, ids.length) / blockSize;
        int[] hits = new int[full];
        long parent = PrefixHash.ROOT;
        int n = 0;
        for (int i = 0; i < full; i++) {
            long m = mediaOf(mediaHashes, i);
            long k = PrefixHash.of(parent, ids, i * blockSize, blockSize, m);
            Integer b = cached.get(k);
            if (b == null || !holds(b, parent, ids, i * blockSize, m)) {
                break;
            }
            hits[n++] = b;
            parent = k;
        }
        return Arrays.copyOf(hits, n);
    }

    private boolean holds(int b, long parent, int[] ids, int from, long m) {
        if (parentKey[b] != parent || media[b] != m) {
            return false;
        }
        return Arrays.equals(tokens[b], 0, blockSize, ids, from, from + blockSize);
    }

    /** Free blocks that {@link #admit} would consume: new blocks, plus hit blocks it revives from the free pool. */
    public int admissionCost(int[] hits, int positions) {
        int revived = 0;
        for (int b : hits) {
            if (refCount[b] == 0) {
                revived++;
            }
        }
        return revived + Math.max(0, blocksFor(positions) - hits.length);
    }

    public boolean canAdmit(int[] hits, int positions) {
        return admissionCost(hits, positions) <= freeBlocks();
    }

    /** Gives an empty table references to {@code hits} and fresh blocks up to {@code positions} positions. */
    public void admit(BlockTable table, int[] hits, int positions) {
        if (!table.isEmpty()) {
            throw new IllegalStateException("admitting into a table that still holds blocks " + table);
        }
        if (!canAdmit(hits, positions)) {
            throw new IllegalStateException("not enough free blocks to admit " + positions + " positions");
        }
        for (int b : hits) {
            if (refCount[b]++ == 0) {
                freeCached.remove(b);
            }
            table.add(b);
        }
        grow(table, positions);
    }

    /** Fresh blocks {@link #grow} needs to cover {@code positions}. */
    public int growthCost(BlockTable table, int positions) {
        return Math.max(0, blocksFor(positions) - table.size());
    }

    public boolean canGrow(BlockTable table, int positions) {
        return growthCost(table, positions) <= freeBlocks();
    }

    public void grow(BlockTable table, int positions) {
        int need = growthCost(table, positions);
        if (need > freeBlocks()) {
            throw new IllegalStateException("need " + need + " blocks, " + freeBlocks() + " free");
        }
        for (int i = 0; i < need; i++) {
            table.add(takeFresh());
        }
    }

    /**
     * Publishes every block of {@code table} that the first {@code filled} tokens of {@code ids} fill completely
     * and that is not yet published. Call after the model wrote those positions.
     */
    public void publish(BlockTable table, int[] ids, int filled, long[] mediaHashes) {
        int full = Math.min(filled / blockSize, table.size());
        int first = full;
        while (first > 0 && !keyed[table.get(first - 1)]) {
            first--;
        }
        long parent = first == 0 ? PrefixHash.ROOT : key[table.get(first - 1)];
        for (int i = first; i < full; i++) {
            int b = table.get(i);
            long m = mediaOf(mediaHashes, i);
            long k = PrefixHash.of(parent, ids, i * blockSize, blockSize, m);
            keyed[b] = true;
            key[b] = k;
            parentKey[b] = parent;
            media[b] = m;
            // A twin computed concurrently may already be published; the older one stays the cache entry.
            if (!cached.containsKey(k)) {
                tokens[b] = Arrays.copyOfRange(ids, i * blockSize, (i + 1) * blockSize);
                cached.put(k, b);
            }
            parent = k;
        }
    }

    /** Drops the table's references, the last block first so a prefix's tail is evicted before its head. */
    public void free(BlockTable table) {
        truncate(table, 0);
    }

    /**
     * Drops the table's references to the blocks past the first {@code positions} positions, the last block first
     * (rejected draft tokens of speculative decoding give back the blocks only they reached).
     */
    public void truncate(BlockTable table, int positions) {
        int keep = blocksFor(positions);
        while (table.size() > keep) {
            int b = table.removeLast();
            if (refCount[b] <= 0) {
                throw new IllegalStateException("block " + b + " freed more often than taken");
            }
            if (--refCount[b] == 0) {
                if (isCacheEntry(b)) {
                    freeCached.add(b);
                } else {
                    forget(b);
                    freeFresh.add(b);
                }
            }
        }
    }

    /**
     * Makes {@code dst} (empty) a copy of {@code src}'s first {@code positions} positions: full blocks are
     * shared, a trailing partial block is copied into a fresh block (copy-on-write, done eagerly since the
     * fork will write into it at once).
     *
     * @return false, changing nothing, when the copy needs a block and none is free
     */
    public boolean fork(BlockTable src, int positions, BlockTable dst, LatentCache cache) {
        if (!dst.isEmpty()) {
            throw new IllegalStateException("forking into a table that still holds blocks " + dst);
        }
        int full = positions / blockSize;
        boolean partial = positions % blockSize != 0;
        if (partial && freeBlocks() == 0) {
            return false;
        }
        for (int i = 0; i < full; i++) {
            int b = src.get(i);
            refCount[b]++;
            dst.add(b);
        }
        if (partial) {
            int copy = takeFresh();
            cache.copyBlock(src.get(full), copy);
            dst.add(copy);
        }
        return true;
    }

    private boolean isCacheEntry(int b) {
        if (!keyed[b]) {
            return false;
        }
        Integer owner = cached.get(key[b]);
        return owner != null && owner == b;
    }

    private int takeFresh() {
        int b;
        if (!freeFresh.isEmpty()) {
            b = freeFresh.poll();
        } else {
            Iterator<Integer> lru = freeCached.iterator();
            b = lru.next();
            lru.remove();
            cached.remove(key[b]);
            forget(b);
        }
        refCount[b] = 1;
        return b;
    }

    private void forget(int b) {
        keyed[b] = false;
        tokens[b] = null;
    }

    private static long mediaOf(long[] mediaHashes, int block) {
        return mediaHashes == null || block >= mediaHashes.length ? PrefixHash.NO_MEDIA : mediaHashes[block];
    }
}
