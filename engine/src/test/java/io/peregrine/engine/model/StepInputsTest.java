package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.config.ConfigParser;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Which attention form each slice of a step takes, and the layout that follows: absorbed slices first, each absorbed
 * row over the cache slots of positions 0 .. its own, then the naive slices over their whole contexts, logits rows in
 * batch order.
 */
class StepInputsTest {
    private static final int BLOCK = 16;

    private static TextConfig k25() throws IOException {
        try (InputStream in = StepInputsTest.class.getResourceAsStream("/io/peregrine/engine/kimi-k25/config.json")) {
            return ConfigParser.parse("config.json", new ObjectMapper().readTree(in), null).text();
        }
    }

    /** K2.5's widths (64 heads, kv_lora 512, 128 nope + 64 rope, v 128): absorbed below ~170 queries per chunk. */
    @Test
    void theCostRulePicksTheAbsorbedFormForFewQueriesDeepIntoAPrompt() throws IOException {
        StepInputs in = new StepInputs(k25(), false);
        assertTrue(in.absorbedIsCheaper(1, 10), "a decode");
        assertTrue(in.absorbedIsCheaper(1, 100_000), "a decode deep into its context");
        assertTrue(in.absorbedIsCheaper(120, 45_000), "a budget-sized chunk deep into a long prompt");
        assertTrue(in.absorbedIsCheaper(4, 2_048), "a few tokens after a cached prefix");
        assertFalse(in.absorbedIsCheaper(16, 0), "a fresh prompt: nothing to re-expand");
        assertFalse(in.absorbedIsCheaper(2_048, 45_000), "many queries: expanding the context once is cheaper");
        assertFalse(in.absorbedIsCheaper(256, 45_000), "past the crossover");
        assertFalse(in.absorbedIsCheaper(120, 100), "a shallow chunk");
    }

    @Test
    void absorbedRowsComeFirstEachOverItsOwnCausalContext() {
        TextConfig cfg = tinyConfig(); // its widths pick the absorbed form below ~32 queries per chunk
        StepInputs in = new StepInputs(cfg, false);
        LatentCache cache = new LatentCache(cfg.numHiddenLayers(), 4, BLOCK, cfg.kvCacheWidth());
        int[] fresh = {3};
        int[] deep = {1, 0};
        int[] decoding = {2};
        List<SequenceSlice> batch = List.of(
                new SequenceSlice(new int[] {5, 6, 7, 8, 9}, 0, fresh, false),
                new SequenceSlice(new int[] {10, 11, 12}, 20, deep, true),
                new SequenceSlice(new int[] {13}, 9, decoding, false));
        assertTrue(in.absorbedIsCheaper(3, 20));
        assertFalse(in.absorbedIsCheaper(5, 0));

        in.build(batch, cache);
        assertEquals(9, in.rows());
        assertEquals(2, in.absorbedSlices());
        assertEquals(4, in.absorbedRows());
        // placements: the deep chunk, the decode, then the fresh prompt
        assertArrayEquals(new int[] {2, 0, 1}, new int[] {in.placementOf(0), in.placementOf(1), in.placementOf(2)});
        assertArrayEquals(new int[] {10, 11, 12, 13, 5, 6, 7, 8, 9}, Arrays.copyOf(in.tokens(), 9));
        assertArrayEquals(new int[] {20, 21, 22, 9, 0, 1, 2, 3, 4}, Arrays.copyOf(in.positions(), 9));
        int[] expected = concat(slots(deep, 21), slots(deep, 22), slots(deep, 23), slots(decoding, 10),
                slots(fresh, 5));
        assertArrayEquals(new int[] {0, 21, 43, 66, 76}, Arrays.copyOf(in.absorbedStarts(), 5));
        assertEquals(76, in.contextStart()[2]);
        assertEquals(expected.length, in.contextSlots());
        assertArrayEquals(expected, Arrays.copyOf(in.context(), in.contextSlots()));
        // logits in batch order: the fresh prompt's last row, every row of the deep chunk, the decode
        assertEquals(5, in.logitRows());
        assertArrayEquals(new int[] {8, 0, 1, 2, 3}, Arrays.copyOf(in.logitRowIndex(), 5));
    }

    @Test
    void aBatchInvariantBackendKeepsMultiTokenChunksNaive() {
        TextConfig cfg = tinyConfig();
        StepInputs in = new StepInputs(cfg, true);
        LatentCache cache = new LatentCache(cfg.numHiddenLayers(), 4, BLOCK, cfg.kvCacheWidth());
        List<SequenceSlice> batch = List.of(
                new SequenceSlice(new int[] {5, 6, 7, 8, 9}, 0, new int[] {3}, false),
                new SequenceSlice(new int[] {10, 11, 12}, 20, new int[] {1, 0}, true),
                new SequenceSlice(new int[] {13}, 9, new int[] {2}, false));
        in.build(batch, cache);
        assertEquals(1, in.absorbedSlices(), "only the decode");
        assertEquals(1, in.absorbedRows());
        assertArrayEquals(new int[] {1, 2, 0}, new int[] {in.placementOf(0), in.placementOf(1), in.placementOf(2)});
        assertArrayEquals(new int[] {13, 5, 6, 7, 8, 9, 10, 11, 12}, Arrays.copyOf(in.tokens(), 9));
        assertArrayEquals(concat(slots(new int[] {2}, 10), slots(new int[] {3}, 5), slots(new int[] {1, 0}, 23)),
                Arrays.copyOf(in.context(), in.contextSlots()));
        assertArrayEquals(new int[] {5, 6, 7, 8, 0}, Arrays.copyOf(in.logitRowIndex(), in.logitRows()));
    }

    /** A one-token prompt chunk (a budget remainder, a prefix-cache hit's last token) is still a prompt chunk there. */
    @Test
    void aBatchInvariantBackendAbsorbsExactlyTheGeneratedTokens() {
        TextConfig cfg = tinyConfig();
        LatentCache cache = new LatentCache(cfg.numHiddenLayers(), 4, BLOCK, cfg.kvCacheWidth());
        List<SequenceSlice> batch = List.of(
                new SequenceSlice(new int[] {7}, 20, new int[] {1, 0}, false, null, true),
                new SequenceSlice(new int[] {13}, 9, new int[] {2}, false, null, false),
                new SequenceSlice(new int[] {4, 5, 6}, 2, new int[] {3}, true, null, false)); // verification rows
        StepInputs invariant = new StepInputs(cfg, true).build(batch, cache);
        assertEquals(2, invariant.absorbedSlices(), "exactly the generated tokens");
        assertEquals(4, invariant.absorbedRows());
        assertArrayEquals(new int[] {2, 0, 1},
                new int[] {invariant.placementOf(0), invariant.placementOf(1), invariant.placementOf(2)});
        StepInputs fast = new StepInputs(cfg, false).build(batch, cache);
        assertEquals(3, fast.absorbedSlices(), "outside batch-invariant mode by cost: one token always, and (on the "
                + "tiny widths) the three-token chunk too, prompt or not");
    }

    @Test
    void theSameInputsRebuiltStepAfterStepAllocateNothingNew() {
        TextConfig cfg = tinyConfig();
        StepInputs in = new StepInputs(cfg, false);
        LatentCache cache = new LatentCache(cfg.numHiddenLayers(), 4, BLOCK, cfg.kvCacheWidth());
        List<SequenceSlice> big = List.of(new SequenceSlice(new int[8], 40, new int[] {0, 1, 2, 3}, true));
        List<SequenceSlice> small = List.of(new SequenceSlice(new int[3], 20, new int[] {1, 0}, false));
        in.build(big, cache);
        int[] context = in.context();
        int[] starts = in.absorbedStarts();
        in.build(small, cache);
        assertTrue(context == in.context() && starts == in.absorbedStarts(), "arrays reused");
        assertArrayEquals(concat(slots(new int[] {1, 0}, 21), slots(new int[] {1, 0}, 22), slots(new int[] {1, 0}, 23)),
                Arrays.copyOf(in.context(), in.contextSlots()));
    }

    private static TextConfig tinyConfig() {
        return ConfigParser.read(TestData.tinyCheckpoint()).text();
    }

    /** The cache slots of positions {@code 0 .. count-1} through {@code table}. */
    private static int[] slots(int[] table, int count) {
        int[] s = new int[count];
        for (int pos = 0; pos < count; pos++) {
            s[pos] = table[pos / BLOCK] * BLOCK + pos % BLOCK;
        }
        return s;
    }

    private static int[] concat(int[]... parts) {
        int[] all = new int[Arrays.stream(parts).mapToInt(p -> p.length).sum()];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }
}
