package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.kv.LatentCache;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The cache paths against recomputation: a decode step (absorbed form over cached latents), a prefill chunk that
 * starts mid-sequence (naive form over cached latents) and a mixed batch must each equal prefilling the whole
 * prefix from scratch. Tolerance is 10× tighter than the golden one: these are the same fp32 math reordered.
 */
class KvCacheConsistencyTest {
    private static TinyModel tiny;

    @BeforeAll
    static void load() {
        tiny = new TinyModel();
    }

    @AfterAll
    static void close() {
        tiny.close();
    }

    private static float[] fromScratch(int[] ids) {
        int blocks = (ids.length + TinyModel.BLOCK - 1) / TinyModel.BLOCK;
        float[][] rows = tiny.prefill(ids, 0, TinyModel.reversedBlocks(blocks), tiny.newCache(blocks), false);
        return rows[0];
    }

    @Test
    void decodeWithTheCacheEqualsRecomputingThePrefix() {
        int[] prompt = GoldenCases.named("p2_len40").prompt();
        int steps = 12;
        int blocks = (prompt.length + steps + TinyModel.BLOCK - 1) / TinyModel.BLOCK;
        LatentCache cache = tiny.newCache(blocks);
        int[] table = TinyModel.reversedBlocks(blocks);
        int[] seq = Arrays.copyOf(prompt, prompt.length + steps);
        float[] last = tiny.prefill(prompt, 0, table, cache, false)[0];
        for (int s = 0; s < steps; s++) {
            int next = Logits.argmax(last);
            seq[prompt.length + s] = next;
            last = tiny.prefill(new int[] {next}, prompt.length + s, table, cache, false)[0];
            float[] expected = fromScratch(Arrays.copyOf(seq, prompt.length + s + 1));
            Logits.assertCloseWithin(expected, last, 1e-4, 1e-5, "decode step " + s);
        }
    }

    @Test
    void chunkedPrefillEqualsOneShotPrefill() {
        int[] prompt = GoldenCases.named("p2_len40").prompt();
        int blocks = 3;
        LatentCache cache = tiny.newCache(blocks);
        int[] table = {2, 0, 1};
        tiny.prefill(Arrays.copyOfRange(prompt, 0, 17), 0, table, cache, false);
        float[][] rest = tiny.prefill(Arrays.copyOfRange(prompt, 17, prompt.length), 17, table, cache, true);
        float[][] expected = GoldenCases.named("p2_len40").prefillLogits();
        for (int t = 0; t < rest.length; t++) {
            Logits.assertClose(expected[17 + t], rest[t], "chunk row " + t);
        }
    }

    /** Few tokens deep into a prompt take the latent (absorbed) form per token; the logits are the one-shot ones. */
    @Test
    void shortChunksDeepIntoAPromptEqualOneShotPrefill() {
        int[] prompt = GoldenCases.named("p2_len40").prompt();
        int blocks = 3;
        LatentCache cache = tiny.newCache(blocks);
        int[] table = {1, 2, 0};
        tiny.prefill(Arrays.copyOfRange(prompt, 0, 20), 0, table, cache, false);
        float[][] expected = GoldenCases.named("p2_len40").prefillLogits();
        for (int start = 20; start < prompt.length; ) {
            int n = Math.min(2 + start % 2, prompt.length - start);
            float[][] rows = tiny.prefill(Arrays.copyOfRange(prompt, start, start + n), start, table, cache, true);
            for (int t = 0; t < n; t++) {
                Logits.assertClose(expected[start + t], rows[t], "chunk at " + start + " row " + t);
            }
            start += n;
        }
    }

    @Test
    void badSlicesAreRejectedWithTheReason() {
        LatentCache cache = tiny.newCache(2);
        IllegalArgumentException shortTable = assertThrows(IllegalArgumentException.class,
                () -> tiny.prefill(new int[20], 0, new int[] {0}, cache, false));
        assertTrue(shortTable.getMessage().contains("covers 16 positions, needs 20"), shortTable.getMessage());
        IllegalArgumentException badBlock = assertThrows(IllegalArgumentException.class,
                () -> tiny.prefill(new int[] {1}, 0, new int[] {7}, cache, false));
        assertTrue(badBlock.getMessage().contains("block 7"), badBlock.getMessage());
        IllegalArgumentException badId = assertThrows(IllegalArgumentException.class,
                () -> tiny.prefill(new int[] {1, 2048}, 0, new int[] {0}, cache, false));
        assertTrue(badId.getMessage().contains("token id 2048"), badId.getMessage());
        LatentCache wrong = new LatentCache(2, 1, 16, tiny.config().kvCacheWidth());
        assertThrows(IllegalArgumentException.class, () -> tiny.prefill(new int[] {1}, 0, new int[] {0}, wrong, false));
    }

    @Test
    void aBatchOfSlicesEqualsEachSliceAlone() {
        int[] a = GoldenCases.named("p1_len7").prompt();
        int[] b = GoldenCases.named("p2_len40").prompt();
        LatentCache cache = tiny.newCache(6);
        // a: prefilled first, then decoded in the same batch as b's prefill; blocks interleaved between sequences.
        int[] tableA = {4, 1};
        int[] tableB = {0, 5, 2};
        tiny.prefill(a, 0, tableA, cache, false);
        List<float[][]> out = tiny.model.forward(List.of(
                new SequenceSlice(new int[] {42}, a.length, tableA, false),
                new SequenceSlice(b, 0, tableB, false)), cache);
        assertEquals(2, out.size());
        int[] aNext = Arrays.copyOf(a, a.length + 1);
        aNext[a.length] = 42;
        Logits.assertCloseWithin(fromScratch(aNext), out.get(0)[0], 1e-4, 1e-5, "decode slice in a batch");
        Logits.assertCloseWithin(fromScratch(b), out.get(1)[0], 1e-4, 1e-5, "prefill slice in a batch");
    }
}
