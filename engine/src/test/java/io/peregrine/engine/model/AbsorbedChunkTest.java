package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.testing.TestData;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Short prefill chunks deep into a prompt (what the scheduler's prefill budget makes) attend in the absorbed form
 * (issue 22): their rows join the step's one absorbed attention call, each over its own causal context, and their
 * logits are the one-shot prefill's within the golden tolerance. On a batch-invariant backend they stay naive. The
 * tiny checkpoint's widths pick the absorbed form for chunks of fewer than ~32 tokens this deep.
 */
class AbsorbedChunkTest {
    static final int PROMPT = 160;
    static final int PREFIX = 128;

    private static Checkpoint checkpoint;
    private static int[] prompt;
    private static float[][] oneShot;

    @BeforeAll
    static void prefillOnce() {
        checkpoint = Checkpoint.open(TestData.tinyCheckpoint());
        try (CpuBackend cpu = new CpuBackend(2)) {
            KimiTextModel model = KimiTextModel.load(checkpoint, cpu);
            prompt = new int[PROMPT];
            Arrays.setAll(prompt, i -> (i * 37 + 11) % model.config().vocabSize());
            oneShot = model.forward(List.of(new SequenceSlice(prompt, 0, blocks(0, PROMPT), true)),
                    model.newCache(blocksFor(PROMPT), TinyModel.BLOCK)).getFirst();
        }
    }

    @AfterAll
    static void close() {
        checkpoint.close();
    }

    @Test
    void shortChunksDeepIntoAPromptAreOneAbsorbedCallAndEqualTheOneShotPrefill() {
        try (Counting counting = new Counting(false)) {
            KimiTextModel model = KimiTextModel.load(checkpoint, counting.backend);
            StepInputs rule = new StepInputs(model.config(), false);
            LatentCache cache = model.newCache(blocksFor(PROMPT), TinyModel.BLOCK);
            int[] table = TinyModel.reversedBlocks(blocksFor(PROMPT));
            prefill(model, 0, PREFIX, table, cache);
            int layers = model.config().numHiddenLayers();
            assertEquals(layers, counting.naive, "a fresh prompt attends in the naive form");
            for (int start = PREFIX, n = 3; start < PROMPT; start += n, n++) {
                n = Math.min(n, PROMPT - start);
                assertTrue(rule.absorbedIsCheaper(n, start), n + " tokens at " + start);
                counting.reset();
                float[][] rows = prefill(model, start, n, table, cache);
                assertEquals(0, counting.naive, "chunk at " + start + ": no naive attention");
                assertEquals(Collections.nCopies(layers, n), counting.absorbedRows,
                        "chunk at " + start + ": one absorbed call per layer over all its rows");
                for (int t = 0; t < n; t++) {
                    Logits.assertClose(oneShot[start + t], rows[t], "chunk at " + start + ", row " + t);
                }
            }
        }
    }

    /** A deep chunk, a decode and a fresh prompt in one step: chunk and decode share the absorbed call. */
    @Test
    void aDeepChunkSharesTheAbsorbedCallWithDecodesInAMixedBatch() {
        try (Counting counting = new Counting(false)) {
            KimiTextModel model = KimiTextModel.load(checkpoint, counting.backend);
            LatentCache cache = model.newCache(blocksFor(PROMPT) + 2, TinyModel.BLOCK);
            int[] deep = blocks(0, PROMPT);
            int[] decoding = {blocksFor(PROMPT)};
            int[] fresh = {blocksFor(PROMPT) + 1};
            int[] other = Arrays.copyOfRange(prompt, 60, 70);
            prefill(model, 0, PREFIX, deep, cache);
            model.forward(List.of(new SequenceSlice(Arrays.copyOf(other, 9), 0, decoding, false)), cache);
            counting.reset();
            int n = 6;
            List<float[][]> out = model.forward(List.of(
                    new SequenceSlice(Arrays.copyOf(prompt, 12), 0, fresh, false),
                    new SequenceSlice(Arrays.copyOfRange(prompt, PREFIX, PREFIX + n), PREFIX, deep, true),
                    new SequenceSlice(new int[] {other[9]}, 9, decoding, false)), cache);
            int layers = model.config().numHiddenLayers();
            assertEquals(Collections.nCopies(layers, n + 1), counting.absorbedRows, "the chunk's rows and the decode");
            assertEquals(layers, counting.naive, "the fresh prompt alone is naive");
            Logits.assertClose(oneShot[11], out.get(0)[0], "fresh prompt");
            for (int t = 0; t < n; t++) {
                Logits.assertClose(oneShot[PREFIX + t], out.get(1)[t], "deep chunk row " + t);
            }
            float[][] alone;
            try (CpuBackend cpu = new CpuBackend(2)) {
                KimiTextModel plain = KimiTextModel.load(checkpoint, cpu);
                alone = plain.forward(List.of(new SequenceSlice(other, 0, new int[] {0}, false)),
                        plain.newCache(1, TinyModel.BLOCK)).getFirst();
            }
            Logits.assertClose(alone[0], out.get(2)[0], "decode");
        }
    }

    @Test
    void aBatchInvariantBackendAttendsDeepChunksInTheNaiveForm() {
        try (Counting counting = new Counting(true)) {
            KimiTextModel model = KimiTextModel.load(checkpoint, counting.backend);
            assertTrue(new StepInputs(model.config(), false).absorbedIsCheaper(4, PREFIX), "cheaper, yet not taken");
            LatentCache cache = model.newCache(blocksFor(PROMPT), TinyModel.BLOCK);
            int[] table = TinyModel.reversedBlocks(blocksFor(PROMPT));
            prefill(model, 0, PREFIX, table, cache);
            int layers = model.config().numHiddenLayers();
            for (int start = PREFIX, n = 4; start < PROMPT; start += n) {
                n = Math.min(n, PROMPT - start);
                counting.reset();
                float[][] rows = prefill(model, start, n, table, cache);
                assertEquals(List.of(), counting.absorbedRows, "chunk at " + start);
                assertEquals(layers, counting.naive, "chunk at " + start);
                for (int t = 0; t < n; t++) {
                    Logits.assertClose(oneShot[start + t], rows[t], "chunk at " + start + ", row " + t);
                }
            }
        }
    }

    /**
     * Batch-invariant mode: however a prompt is chunked (one-token chunks included: a budget remainder, or the one
     * token a prefix-cache hit leaves), each prompt row's logits are the one-shot prefill's bit for bit.
     */
    @Test
    void aBatchInvariantBackendGivesOneTokenPromptChunksTheOneShotBits() {
        try (Counting counting = new Counting(true)) {
            KimiTextModel model = KimiTextModel.load(checkpoint, counting.backend);
            int[] table = TinyModel.reversedBlocks(blocksFor(PROMPT));
            float[][] whole = model.forward(List.of(new SequenceSlice(prompt, 0, table, true, null, true)),
                    model.newCache(blocksFor(PROMPT), TinyModel.BLOCK)).getFirst();
            LatentCache cache = model.newCache(blocksFor(PROMPT), TinyModel.BLOCK);
            int[] sizes = {1, 3, 1, 1, 2, 5};
            int layers = model.config().numHiddenLayers();
            for (int start = 0, k = 0; start < PROMPT; k++) {
                int n = Math.min(sizes[k % sizes.length], PROMPT - start);
                counting.reset();
                int[] tokens = Arrays.copyOfRange(prompt, start, start + n);
                float[][] rows = model.forward(List.of(new SequenceSlice(tokens, start, table, true, null, true)),
                        cache).getFirst();
                assertEquals(List.of(), counting.absorbedRows, "prompt chunk of " + n + " at " + start);
                assertEquals(layers, counting.naive, "prompt chunk of " + n + " at " + start);
                for (int t = 0; t < n; t++) {
                    org.junit.jupiter.api.Assertions.assertArrayEquals(whole[start + t], rows[t],
                            "prompt chunk of " + n + " at " + start + ", row " + t);
                }
                start += n;
            }
        }
    }

    private static float[][] prefill(KimiTextModel model, int start, int n, int[] table, LatentCache cache) {
        int[] tokens = Arrays.copyOfRange(prompt, start, start + n);
        return model.forward(List.of(new SequenceSlice(tokens, start, table, true)), cache).getFirst();
    }

    private static int blocksFor(int positions) {
        return (positions + TinyModel.BLOCK - 1) / TinyModel.BLOCK;
    }

    /** Blocks {@code first ..} covering {@code positions}. */
    private static int[] blocks(int first, int positions) {
        int[] t = new int[blocksFor(positions)];
        Arrays.setAll(t, i -> first + i);
        return t;
    }

    /** A CPU backend behind a proxy that counts the attention calls: naive ones, and the rows of each absorbed one. */
    private static final class Counting implements InvocationHandler, AutoCloseable {
        final CpuBackend cpu;
        final Backend backend;
        final List<Integer> absorbedRows = new ArrayList<>();
        int naive;

        Counting(boolean batchInvariant) {
            cpu = new CpuBackend(2, batchInvariant);
            backend = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                    this);
        }

        void reset() {
            absorbedRows.clear();
            naive = 0;
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            switch (method.getName()) {
                case "attentionAbsorbed" -> absorbedRows.add(((Activation) args[0]).rows());
                case "attentionNaive" -> naive++;
                default -> { }
            }
            try {
                return method.invoke(cpu, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }

        @Override
        public void close() {
            cpu.close();
        }
    }
}
