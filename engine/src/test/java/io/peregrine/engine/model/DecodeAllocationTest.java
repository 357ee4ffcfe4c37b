package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sample.SamplingRule;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bytes the calling (engine) thread allocates per decode step of four sequences (the forward pass and the sampling
 * in the backend, as the engine runs them), on two random models whose widths
 * differ four-fold (hidden 128 vs 512, vocab 512 vs 2048, expert width 64 vs 256): a small constant that does not
 * grow with the model. The backend runs on one thread so that all of the step's work is on the measured thread.
 * What is left is small handles (a step's views, the Product records of each layer's batches), not activations.
 */
class DecodeAllocationTest {
    static final int SEQS = 4;
    static final int STEPS = 16;
    /** The bound the measurement is held to; today's figure is in docs/performance.md. */
    static final long MAX_BYTES_PER_STEP = 32 << 10;

    @Test
    void aDecodeStepAllocatesASmallConstant(@TempDir Path dir) throws IOException {
        long small = bytesPerStep(dir.resolve("small"), new SyntheticCheckpoint.Shape(512, 128, 3, 4, 64, 64, 32, 16, 32,
                256, 64, 16, 4));
        long large = bytesPerStep(dir.resolve("large"), new SyntheticCheckpoint.Shape(2048, 512, 3, 4, 256, 256, 32, 16,
                32, 1024, 256, 16, 4));
        System.out.println("decode step, " + SEQS + " sequences: " + small + " bytes allocated (small model), " + large
                + " (4x wider)");
        assertTrue(small <= MAX_BYTES_PER_STEP, small + " bytes per step on the small model");
        assertTrue(large <= MAX_BYTES_PER_STEP, large + " bytes per step on the large model");
        // one hidden row of the wider model is 2 KiB, one logits row 8 KiB: growing with width would show here
        assertTrue(Math.abs(large - small) <= 1024, "allocation grows with width: " + small + " vs " + large);
    }

    private static long bytesPerStep(Path dir, SyntheticCheckpoint.Shape shape) throws IOException {
        SyntheticCheckpoint.write(dir, shape);
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Checkpoint ck = Checkpoint.open(dir); CpuBackend backend = new CpuBackend(1)) {
            KimiTextModel model = KimiTextModel.load(ck, backend);
            int blocksPer = 4;
            LatentCache cache = model.newCache(SEQS * blocksPer, 16);
            int[][] tables = new int[SEQS][blocksPer];
            List<SequenceSlice> prompts = new ArrayList<>();
            for (int s = 0; s < SEQS; s++) {
                for (int b = 0; b < blocksPer; b++) {
                    tables[s][b] = s * blocksPer + b;
                }
                int[] prompt = new int[5 + s];
                java.util.Arrays.setAll(prompt, i -> (i * 31 + 7) % shape.vocab());
                prompts.add(new SequenceSlice(prompt, 0, tables[s], false));
            }
            model.forward(prompts, cache);
            // every step's batch is built before the measurement: the engine's own bookkeeping is not the model's
            int warm = 4 * STEPS;
            List<List<SequenceSlice>> steps = new ArrayList<>();
            for (int k = 0; k < warm + STEPS; k++) {
                List<SequenceSlice> batch = new ArrayList<>();
                for (int s = 0; s < SEQS; s++) {
                    batch.add(new SequenceSlice(new int[] {(k + s) % shape.vocab()}, 5 + s + k % 20, tables[s], false));
                }
                steps.add(batch);
            }
            // what the engine does each step: run, then sample in the backend (greedy; only ids come back)
            SamplingBatch sampling = new SamplingBatch();
            SamplingRule greedy = SamplingParams.greedy(1).rule();
            TokenCounts[] counts = new TokenCounts[SEQS];
            for (int s = 0; s < SEQS; s++) {
                counts[s] = model.tokenCounts(prompts.get(s).tokens(), prompts.get(s).tokens().length);
            }
            for (int k = 0; k < warm; k++) {
                step(model, steps.get(k), cache, sampling, greedy, counts);
            }
            // the least of several rounds (up to 40, stopping two after it settles): while the JIT still compiles a
            // kernel, its Vector API code allocates boxes
            long least = Long.MAX_VALUE;
            int settled = 0;
            for (int round = 0; round < 40 && settled < 2; round++) {
                long before = mx.getCurrentThreadAllocatedBytes();
                for (int k = warm; k < warm + STEPS; k++) {
                    step(model, steps.get(k), cache, sampling, greedy, counts);
                }
                least = Math.min(least, (mx.getCurrentThreadAllocatedBytes() - before) / STEPS);
                settled = least <= MAX_BYTES_PER_STEP / 2 ? settled + 1 : 0;
            }
            return least;
        }
    }

    private static void step(KimiTextModel model, List<SequenceSlice> batch, LatentCache cache, SamplingBatch sampling,
                             SamplingRule rule, TokenCounts[] counts) {
        StepLogits logits = model.step(batch, cache);
        sampling.clear();
        for (int s = 0; s < SEQS; s++) {
            sampling.add(s, rule, counts[s], 0.0, null, -1);
        }
        logits.sample(sampling);
    }
}
