package io.peregrine.engine.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class BlockManagerTest {
    private static final int BS = 4;

    private static int[] seq(int from, int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = from + i;
        }
        return a;
    }

    /** Admits {@code ids} with whatever prefix hits there are, then publishes all of it as if computed. */
    private static BlockTable run(BlockManager bm, int[] ids) {
        BlockTable t = new BlockTable();
        int[] hits = bm.lookup(ids, ids.length - 1, null);
        bm.admit(t, hits, ids.length);
        bm.publish(t, ids, ids.length, null);
        return t;
    }

    @Test
    void allocatesAndFreesEveryBlock() {
        BlockManager bm = new BlockManager(10, BS);
        BlockTable t = new BlockTable();
        bm.admit(t, new int[0], 9);
        assertEquals(3, t.size());
        assertEquals(3, bm.usedBlocks());
        assertTrue(bm.canGrow(t, 12));
        bm.grow(t, 13);
        assertEquals(4, t.size());
        bm.free(t);
        assertEquals(0, bm.usedBlocks());
        assertEquals(10, bm.freeBlocks());
        assertTrue(t.isEmpty());
        assertThrows(IllegalStateException.class, () -> bm.grow(new BlockTable(), 100));
    }

    @Test
    void sharesFullPromptBlocksAndCountsReferences() {
        BlockManager bm = new BlockManager(16, BS);
        int[] a = seq(100, 10); // blocks [100..103] [104..107] + partial
        BlockTable ta = run(bm, a);
        assertEquals(2, bm.cachedBlocks(), "only full blocks are published");

        int[] b = a.clone();
        b[9] = 7; // same two full blocks, different tail
        int[] hits = bm.lookup(b, b.length - 1, null);
        assertArrayEquals(new int[] {ta.get(0), ta.get(1)}, hits);
        BlockTable tb = new BlockTable();
        bm.admit(tb, hits, b.length);
        assertEquals(2, bm.refCount(ta.get(0)));
        assertTrue(tb.get(2) != ta.get(2), "the partial block is never shared");

        bm.free(ta);
        assertEquals(1, bm.refCount(tb.get(0)));
        assertEquals(3, bm.usedBlocks());
        bm.free(tb);
        assertEquals(0, bm.usedBlocks());
        assertEquals(2, bm.cachedBlocks(), "freed published blocks stay revivable");
        assertArrayEquals(hits, bm.lookup(b, b.length - 1, null));
    }

    @Test
    void aHitNeedsTheWholePrefixToMatch() {
        BlockManager bm = new BlockManager(16, BS);
        int[] a = seq(0, 12);
        bm.free(run(bm, a));
        int[] b = a.clone();
        b[5] = 99; // second block differs
        assertEquals(1, bm.lookup(b, 12, null).length);
        int[] c = a.clone();
        c[0] = 99; // first block differs: the later identical blocks must not hit (different prefix)
        assertEquals(0, bm.lookup(c, 12, null).length);
        assertEquals(2, bm.lookup(a, 11, null).length, "blocks past maxTokens are not used");
        assertEquals(3, bm.lookup(a, 12, null).length);
    }

    @Test
    void mediaContentIsPartOfTheKey() {
        BlockManager bm = new BlockManager(16, BS);
        int[] ids = seq(0, 8);
        BlockTable t = new BlockTable();
        bm.admit(t, new int[0], 8);
        bm.publish(t, ids, 8, new long[] {0, 1234});
        bm.free(t);
        assertEquals(2, bm.lookup(ids, 8, new long[] {0, 1234}).length);
        assertEquals(1, bm.lookup(ids, 8, new long[] {0, 999}).length, "same placeholder tokens, other image");
        assertEquals(1, bm.lookup(ids, 8, null).length);
    }

    @Test
    void evictsTheLeastRecentlyFreedCachedBlocksAndHandsOutFreshOnesFirst() {
        BlockManager bm = new BlockManager(6, BS);
        int[] a = seq(0, 8);
        int[] b = seq(50, 8);
        bm.free(run(bm, a)); // a's 2 blocks cached, freed first
        bm.free(run(bm, b)); // then b's
        assertEquals(4, bm.cachedBlocks());
        assertEquals(0, bm.usedBlocks());

        BlockTable t = new BlockTable();
        bm.admit(t, new int[0], 8); // 2 never-used blocks exist: no eviction yet
        assertEquals(4, bm.cachedBlocks());
        bm.grow(t, 12); // now one eviction: a's tail (freed before a's head) goes first
        assertEquals(3, bm.cachedBlocks());
        assertEquals(1, bm.lookup(a, 8, null).length, "a's head block survives its tail");
        assertEquals(2, bm.lookup(b, 8, null).length);
        bm.grow(t, 16);
        assertEquals(0, bm.lookup(a, 8, null).length);
        assertEquals(2, bm.lookup(b, 8, null).length, "the most recently freed prefix is evicted last");
        bm.free(t);
    }

    @Test
    void admissionCountsRevivedBlocksAgainstTheFreePool() {
        BlockManager bm = new BlockManager(4, BS);
        int[] a = seq(0, 9);
        bm.free(run(bm, a)); // 2 cached (free) blocks + 2 fresh
        int[] hits = bm.lookup(a, 8, null);
        assertEquals(2, hits.length);
        // 3 blocks of 4 cover 9 positions: 2 revived + 1 fresh = 3 of the 4 free blocks
        assertEquals(3, bm.admissionCost(hits, 9));
        assertTrue(bm.canAdmit(hits, 16));
        assertFalse(bm.canAdmit(hits, 17));
        BlockTable t = new BlockTable();
        bm.admit(t, hits, 9);
        assertEquals(3, bm.usedBlocks());
        bm.free(t);
    }

    @Test
    void forkSharesFullBlocksAndCopiesThePartialTail() {
        BlockManager bm = new BlockManager(8, BS);
        LatentCache cache = new LatentCache(2, 8, BS, 3);
        BlockTable parent = new BlockTable();
        bm.admit(parent, new int[0], 6);
        float[] v = new float[3];
        for (int pos = 0; pos < 6; pos++) {
            for (int l = 0; l < 2; l++) {
                Arrays.fill(v, pos * 10 + l);
                cache.write(l, cache.slot(parent.toArray(), pos), v, 0);
            }
        }
        BlockTable child = new BlockTable();
        assertTrue(bm.fork(parent, 6, child, cache));
        assertEquals(parent.get(0), child.get(0));
        assertEquals(2, bm.refCount(parent.get(0)));
        assertTrue(parent.get(1) != child.get(1));
        for (int pos = 0; pos < 6; pos++) {
            for (int l = 0; l < 2; l++) {
                assertEquals(pos * 10 + l, io.peregrine.engine.backend.HostMemory.host(cache.slab(l)).data()[cache.slot(child.toArray(), pos) * 3]);
            }
        }
        bm.free(parent);
        bm.free(child);
        assertEquals(0, bm.usedBlocks());

        BlockManager full = new BlockManager(2, BS);
        BlockTable p = new BlockTable();
        full.admit(p, new int[0], 6);
        assertFalse(full.fork(p, 6, new BlockTable(), cache), "no block for the copy");
        assertEquals(2, full.usedBlocks());
        assertEquals(1, full.refCount(p.get(0)), "a failed fork takes no references");
    }

    @Test
    void concurrentTwinsPublishOnceAndBothFreeCleanly() {
        BlockManager bm = new BlockManager(8, BS);
        int[] a = seq(0, 8);
        BlockTable t1 = new BlockTable();
        BlockTable t2 = new BlockTable();
        bm.admit(t1, new int[0], 8);
        bm.admit(t2, new int[0], 8); // both computing the same prompt at once
        bm.publish(t1, a, 8, null);
        bm.publish(t2, a, 8, null);
        assertEquals(2, bm.cachedBlocks());
        bm.free(t2);
        bm.free(t1);
        assertEquals(0, bm.usedBlocks());
        assertArrayEquals(new int[] {0, 1}, bm.lookup(a, 8, null));
    }
}
