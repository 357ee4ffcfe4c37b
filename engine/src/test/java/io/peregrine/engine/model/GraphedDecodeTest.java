package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.HostMemory;
import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sample.SamplingRule;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Graph decode on a CPU backend that captures like a CUDA stream ({@link CapturingBackend}: a captured step is
 * recorded, not run, and a launch re-runs the recorded operations over the buffers they named). Two models on the
 * same checkpoint run the same schedule, one eagerly and one with graphs: batches of varying size (padded to buckets
 * 1, 2, 4, 8), sequences joining and leaving. Held: the same tokens and logprobs bit for bit, the same latents in
 * every real slot, each bucket captured once and replayed after, and a replayed step is one graph launch, one upload
 * and one sample; the same with an MoE layer (routed by the backend). A step that syncs with the host cannot be
 * captured: one attempt, then eager, with the eager results.
 */
class GraphedDecodeTest {
    static final int SEQS = 6;
    static final int BLOCKS_PER_SEQ = 4;
    static final int BLOCK = 16;
    /** Decode batch per step: sequence ids taking part (bucket changes, sequences joining and leaving). */
    static final int[][] SCHEDULE = {
            {0, 1, 2}, {0, 1, 2}, {0, 1, 2, 3}, {0}, {0}, {1, 2, 3, 4, 5}, {1, 2, 3, 4, 5}, {0, 2}, {0, 1, 2, 3, 4, 5},
            {3, 1, 2}, {5}, {0, 1, 2, 3, 4, 5}};

    @Test
    void graphDecodeMatchesEagerBitForBitAndCapturesEachBucketOnce(@TempDir Path dir) throws IOException {
        Path ck = SyntheticCheckpoint.write(dir.resolve("dense"), dense());
        try (Checkpoint c = Checkpoint.open(ck); CpuBackend cpu = new CpuBackend(2);
             CapturingBackend capturing = new CapturingBackend(2)) {
            Run eager = new Run(KimiTextModel.load(c, cpu));
            KimiTextModel graphedModel = KimiTextModel.load(c, capturing.backend);
            assertArrayEquals(new int[] {1, 2, 4, 8}, graphedModel.captureDecodeGraphs(8));
            Run graphed = new Run(graphedModel);
            eager.prefill();
            graphed.prefill();
            for (int k = 0; k < SCHEDULE.length; k++) {
                eager.decode(SCHEDULE[k]);
                long graphLaunches = capturing.graphLaunches;
                capturing.calls.clear();
                graphed.decode(SCHEDULE[k]);
                assertEquals(eager.log, graphed.log, "step " + k + ": tokens and logprobs");
                if (capturing.graphLaunches > graphLaunches) {
                    assertEquals(List.of("copyIn", "graphLaunch", "sample"), capturing.calls,
                            "step " + k + ": a replayed step is its upload, one graph launch and the sampling");
                }
            }
            GraphedDecode g = graphedModel.graphedDecode();
            assertEquals(4, g.captures(), "buckets 1, 2, 4 and 8, each captured once");
            assertEquals(SCHEDULE.length - 4, g.launches(), "every other step replayed");
            assertFalse(g.fellBack());
            for (int l = 0; l < eager.cache.layers(); l++) {
                float[] a = HostMemory.host(eager.cache.slab(l)).data();
                float[] b = HostMemory.host(graphed.cache.slab(l)).data();
                int real = eager.cache.padSlot() * eager.cache.width();
                assertArrayEquals(Arrays.copyOf(a, real), Arrays.copyOf(b, real),
                        "layer " + l + ": every sequence's slots as the eager run wrote them");
                assertFalse(Arrays.stream(toDoubles(b, real)).allMatch(v -> v == 0), "the padding wrote its pad slot");
            }
        }
    }

    @Test
    void aContextOutgrowingItsBufferRecapturesTheBucket(@TempDir Path dir) throws IOException {
        Path ck = SyntheticCheckpoint.write(dir.resolve("dense"), dense());
        try (Checkpoint c = Checkpoint.open(ck); CpuBackend cpu = new CpuBackend(2);
             CapturingBackend capturing = new CapturingBackend(2)) {
            Run eager = new Run(KimiTextModel.load(c, cpu));
            KimiTextModel graphedModel = KimiTextModel.load(c, capturing.backend);
            graphedModel.captureDecodeGraphs(8, 1);  // room for twice the first step's context, no more
            Run graphed = new Run(graphedModel);
            eager.prefill();
            graphed.prefill();
            int[] two = {0, 1};
            for (int k = 0; k < 30; k++) {  // contexts 6 + 7 = 13 slots at first, 35 + 36 = 71 at the end
                eager.decode(two);
                graphed.decode(two);
                assertEquals(eager.log, graphed.log, "step " + k);
            }
            GraphedDecode g = graphedModel.graphedDecode();
            // 26 context slots reserved at the capture; outgrown at step 7 (27 slots: 52), at step 20 (53: 104)
            assertEquals(3, g.captures(), "captured, then again each time the context outgrew its buffer");
            assertEquals(27, g.launches());
        }
    }

    @Test
    void theMoeModelsDecodeStepIsCapturedAndReplayedToo(@TempDir Path dir) throws IOException {
        Path ck = SyntheticCheckpoint.write(dir.resolve("moe"), moe());
        try (Checkpoint c = Checkpoint.open(ck); CpuBackend cpu = new CpuBackend(2);
             CapturingBackend capturing = new CapturingBackend(2)) {
            Run eager = new Run(KimiTextModel.load(c, cpu));
            KimiTextModel graphedModel = KimiTextModel.load(c, capturing.backend);
            graphedModel.captureDecodeGraphs(8);
            Run graphed = new Run(graphedModel);
            eager.prefill();
            graphed.prefill();
            for (int k = 0; k < SCHEDULE.length; k++) {
                eager.decode(SCHEDULE[k]);
                long graphLaunches = capturing.graphLaunches;
                capturing.calls.clear();
                graphed.decode(SCHEDULE[k]);
                if (capturing.graphLaunches > graphLaunches) {
                    assertEquals(List.of("copyIn", "graphLaunch", "sample"), capturing.calls, "step " + k);
                }
            }
            // padding rows join the experts' row groups, and the CPU's products round a row by the rows beside it:
            // the same tokens, logprobs to rounding (the dense model above is bit for bit)
            assertEquals(eager.log.size(), graphed.log.size());
            for (int i = 0; i < eager.log.size(); i++) {
                String[] a = eager.log.get(i).split(":");
                String[] b = graphed.log.get(i).split(":");
                assertEquals(a[0] + ":" + a[1] + ":" + a[3], b[0] + ":" + b[1] + ":" + b[3], "sample " + i + ": ids");
                assertEquals(Float.parseFloat(a[2]), Float.parseFloat(b[2]), 1e-5, "sample " + i + ": logprob");
                assertEquals(Float.parseFloat(a[4]), Float.parseFloat(b[4]), 1e-5, "sample " + i + ": top logprob");
            }
            GraphedDecode g = graphedModel.graphedDecode();
            assertFalse(g.fellBack(), "the MoE block routes on the backend: nothing refuses the capture");
            assertEquals(4, g.captures());
            assertEquals(SCHEDULE.length - 4, g.launches());
        }
    }

    @Test
    void aStepThatSynchronisesWithTheHostFallsBackToEagerOnce(@TempDir Path dir) throws IOException {
        Path ck = SyntheticCheckpoint.write(dir.resolve("moe"), moe());
        // a backend whose MoE block copies to the host (as the host-routed MoE did): its capture is refused there
        try (Checkpoint c = Checkpoint.open(ck); CpuBackend cpu = new CpuBackend(2);
             CapturingBackend capturing = new CapturingBackend(2, Set.of("moe"))) {
            Run eager = new Run(KimiTextModel.load(c, cpu));
            KimiTextModel graphedModel = KimiTextModel.load(c, capturing.backend);
            graphedModel.captureDecodeGraphs(8);
            Run graphed = new Run(graphedModel);
            eager.prefill();
            graphed.prefill();
            for (int[] step : SCHEDULE) {
                eager.decode(step);
                graphed.decode(step);
            }
            assertEquals(eager.log, graphed.log, "the eager steps' tokens and logprobs");
            GraphedDecode g = graphedModel.graphedDecode();
            assertTrue(g.fellBack(), "the refused capture turned graphs off");
            assertEquals(0, g.captures());
            assertEquals(0, capturing.graphLaunches);
        }
    }

    @Test
    void bucketsArePowersOfTwoUpToTheLargestBatch() {
        assertArrayEquals(new int[] {1}, GraphedDecode.buckets(1));
        assertArrayEquals(new int[] {1, 2, 4, 8, 16, 32}, GraphedDecode.buckets(32));
        assertArrayEquals(new int[] {1, 2, 4, 8, 16, 32, 48}, GraphedDecode.buckets(48));
    }

    @Test
    void theCpuBackendHasNoGraphs(@TempDir Path dir) throws IOException {
        Path ck = SyntheticCheckpoint.write(dir.resolve("dense"), dense());
        try (Checkpoint c = Checkpoint.open(ck); Backend cpu = new CpuBackend(1)) {
            assertTrue(cpu.stepGraphs().isEmpty());
            KimiTextModel model = KimiTextModel.load(c, cpu);
            assertEquals(0, model.captureDecodeGraphs(8).length);
            assertEquals(null, model.graphedDecode());
        }
    }

    /** A dense layer 0 and an MoE layer 1 (8 experts, top 2). */
    private static SyntheticCheckpoint.Shape moe() {
        SyntheticCheckpoint.Shape s = dense();
        return new SyntheticCheckpoint.Shape(s.vocab(), s.hidden(), 2, s.heads(), s.qLora(), s.kvLora(), s.nope(),
                s.rope(), s.vDim(), s.denseInter(), s.moeInter(), s.experts(), s.topK());
    }

    /** One layer: with first_k_dense_replace 1 the model has no MoE layer. */
    private static SyntheticCheckpoint.Shape dense() {
        return new SyntheticCheckpoint.Shape(512, 128, 1, 4, 64, 64, 32, 16, 32, 256, 64, 8, 2);
    }

    private static double[] toDoubles(float[] a, int from) {
        double[] d = new double[a.length - from];
        for (int i = from; i < a.length; i++) {
            d[i - from] = a[i];
        }
        return d;
    }

    /** One model's run of the schedule: its cache, its sequences and what it sampled. */
    private static final class Run {
        final KimiTextModel model;
        final LatentCache cache;
        final int[][] tables = new int[SEQS][BLOCKS_PER_SEQ];
        final int[] length = new int[SEQS];
        final int[] last = new int[SEQS];
        final TokenCounts[] counts = new TokenCounts[SEQS];
        final SamplingBatch sampling = new SamplingBatch();
        final SamplingRule greedy = SamplingParams.greedy(1).rule();
        final List<String> log = new ArrayList<>();

        Run(KimiTextModel model) {
            this.model = model;
            this.cache = model.newCache(SEQS * BLOCKS_PER_SEQ, BLOCK);
            for (int s = 0; s < SEQS; s++) {
                for (int b = 0; b < BLOCKS_PER_SEQ; b++) {
                    tables[s][b] = s * BLOCKS_PER_SEQ + b;
                }
            }
        }

        void prefill() {
            List<SequenceSlice> batch = new ArrayList<>();
            for (int s = 0; s < SEQS; s++) {
                int[] prompt = new int[5 + s];
                int salt = 7 * s + 3;
                Arrays.setAll(prompt, i -> (i * 31 + salt) % 512);
                counts[s] = model.tokenCounts(prompt, prompt.length);
                batch.add(new SequenceSlice(prompt, 0, tables[s], false));
                length[s] = prompt.length;
            }
            int[] all = new int[SEQS];
            Arrays.setAll(all, i -> i);
            sample(model.step(batch, cache), all);
        }

        void decode(int[] seqs) {
            List<SequenceSlice> batch = new ArrayList<>();
            for (int s : seqs) {
                batch.add(new SequenceSlice(new int[] {last[s]}, length[s], tables[s], false));
                length[s]++;
            }
            sample(model.step(batch, cache), seqs);
        }

        private void sample(StepLogits logits, int[] seqs) {
            sampling.clear();
            for (int i = 0; i < seqs.length; i++) {
                sampling.add(i, greedy, counts[seqs[i]], 0.0, null, 2);
            }
            logits.sample(sampling);
            for (int i = 0; i < seqs.length; i++) {
                last[seqs[i]] = sampling.token(i);
                log.add(seqs[i] + ":" + sampling.token(i) + ":" + sampling.logprob(i) + ":" + sampling.topId(i, 1)
                        + ":" + sampling.topLogprob(i, 1));
            }
        }
    }
}
