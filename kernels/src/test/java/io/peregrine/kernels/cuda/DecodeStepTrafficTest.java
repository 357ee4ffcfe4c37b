package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingRule;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUfunction;
import org.junit.jupiter.api.Test;

/**
 * The golden tiny K2.5 checkpoint's decode step (3 layers, 2 of them MoE with 8 INT4 experts, top-2 + a shared
 * expert) through {@link CudaBackend} on a recording fake device: what a step uploads, downloads, launches and waits
 * for, counted. The fake computes nothing (downloads leave the host arrays as they are), which is enough to see the
 * traffic: the step uploads its inputs, then runs the whole forward pass — the MoE layers routed on the device —
 * with no copy either way and no synchronisation until the sampler's upload, and downloads only the sampled ids. Its
 * launches (kernel and grid) are the same for other tokens at other positions: nothing in them depends on the
 * routing, which is what a CUDA graph of the step needs.
 */
class DecodeStepTrafficTest {
    static final int SEQS = 4;

    record Step(List<FakeDriver.Call> calls, List<CUfunction> launched, List<LaunchGeometry> geometries) {}

    @Test
    void aDecodeStepRoutesOnTheDeviceAndWaitsForNothingBeforeSampling() {
        Path golden = Path.of(System.getProperty("peregrine.testdata", "../testdata")).resolve("golden");
        FakeDriver driver = new FakeDriver();
        try (CudaBackend backend = new CudaBackend(driver.open("fake"), CudaBackend.Options.FP32, "fake");
             Checkpoint ck = Checkpoint.open(golden.resolve("tiny-k25"))) {
            CudaContext ctx = backend.context();
            KimiTextModel model = KimiTextModel.load(ck, backend);
            TextConfig cfg = model.config();
            int moeLayers = 0;
            for (int l = 0; l < cfg.numHiddenLayers(); l++) {
                moeLayers += cfg.isMoeLayer(l) ? 1 : 0;
            }
            assertTrue(moeLayers > 0 && cfg.nRoutedExperts() > cfg.numExpertsPerTok(), "a model with routed experts");
            LatentCache cache = model.newCache(64, 16);
            int[][] prompts = new int[SEQS][];
            TokenCounts[] counts = new TokenCounts[SEQS];
            List<SequenceSlice> prefill = new ArrayList<>();
            for (int s = 0; s < SEQS; s++) {
                prompts[s] = new int[] {1792, 100 + s, 200 + s, 300 + s, 7 + s};
                counts[s] = model.tokenCounts(prompts[s], prompts[s].length);
                prefill.add(new SequenceSlice(prompts[s], 0, new int[] {2 * s, 2 * s + 1}, false));
            }
            SamplingBatch batch = new SamplingBatch();
            SamplingRule greedy = new SamplingRule(0, 1, 0, 0, 0, 0, 1.1);
            for (int s = 0; s < SEQS; s++) {
                batch.add(s, greedy, counts[s], 0, null, -1);
            }
            model.step(prefill, cache).sample(batch);
            model.step(decode(prompts, 3, 500), cache).sample(batch);  // the decode workspace and context sized

            Step first = step(driver, model, cache, batch, decode(prompts, 1, 900));
            Step second = step(driver, model, cache, batch, decode(prompts, 2, 1500));

            int sample = index(first, ctx.function(KernelName.SAMPLE_ROWS));
            int firstLaunch = first.calls().indexOf(first.calls().stream().filter(c -> c.name().equals("launch"))
                    .findFirst().orElseThrow());
            List<String> forward = first.calls().subList(firstLaunch, sample).stream().map(FakeDriver.Call::name)
                    .filter(n -> !n.equals("launch") && !n.equals("fill32") && !n.equals("copyOnDevice")).toList();
            // the sampler's one upload of its rows (a copy and the wait that returns it), then its launch
            assertEquals(List.of("capturing", "copyToDevice", "synchronize"), forward,
                    "between the first launch and the sampler: no copy either way and no wait");
            List<String> before = first.calls().subList(0, firstLaunch).stream().map(FakeDriver.Call::name).distinct()
                    .toList();
            assertTrue(List.of("capturing", "copyToDevice", "synchronize").containsAll(before),
                    "before the forward pass only the step's inputs go up: " + before);

            long down = driver.bytes("copyToHost");
            long ids = 4L * 2 * SEQS;
            System.out.printf("decode step of %d sequences on the tiny model (%d layers, %d MoE): %d launches, "
                            + "%d B up in %d copies, %d B down in %d copies, %d synchronisations%n", SEQS,
                    cfg.numHiddenLayers(), moeLayers, second.launched().size(), driver.bytes("copyToDevice"),
                    driver.calls("copyToDevice").size(), down, driver.calls("copyToHost").size(),
                    driver.calls("synchronize").size());
            assertEquals(ids, down, "downloads: the sampled ids and logprobs, nothing else");
            assertEquals(1, driver.calls("copyToHost").size());
            assertEquals(1, driver.launches(ctx, KernelName.SAMPLE_ROWS), "sampled on the device");
            assertEquals(cfg.numHiddenLayers(), driver.launches(ctx, KernelName.MLA_ABSORBED_F32),
                    "one attention launch per layer for every decode row");
            assertEquals(moeLayers, driver.launches(ctx, KernelName.MOE_ROUTER), "each MoE layer routed on the device");
            assertEquals(2L * moeLayers, driver.launches(ctx, KernelName.MOE_INT4_GEMV), "gate‖up and down per layer");
            assertEquals(moeLayers, driver.launches(ctx, KernelName.MOE_COMBINE_HELD));
            assertEquals(0, driver.calls("alloc").size(), "a decode step of a seen size allocates nothing");

            assertEquals(first.launched(), second.launched(), "the same kernels for other tokens and positions");
            assertEquals(first.geometries(), second.geometries(), "with the same grids");
            assertEquals(first.calls().stream().map(FakeDriver.Call::name).toList(),
                    second.calls().stream().map(FakeDriver.Call::name).toList(), "and the same driver calls");
        }
    }

    /** One decode token per sequence: token {@code base + s} at position {@code prompt + offset}. */
    private static List<SequenceSlice> decode(int[][] prompts, int offset, int base) {
        List<SequenceSlice> decode = new ArrayList<>();
        for (int s = 0; s < prompts.length; s++) {
            decode.add(new SequenceSlice(new int[] {base + 37 * s}, prompts[s].length + offset,
                    new int[] {2 * s, 2 * s + 1}, false));
        }
        return decode;
    }

    private static Step step(FakeDriver driver, KimiTextModel model, LatentCache cache, SamplingBatch batch,
                             List<SequenceSlice> slices) {
        driver.reset();
        model.step(slices, cache).sample(batch);
        return new Step(List.copyOf(driver.calls), List.copyOf(driver.launched), List.copyOf(driver.geometries));
    }

    /** The position in {@code step.calls()} of the first launch of {@code f}. */
    private static int index(Step step, CUfunction f) {
        int launch = -1;
        for (int i = 0; i < step.launched().size(); i++) {
            if (step.launched().get(i) == f) {
                launch = i;
                break;
            }
        }
        int seen = -1;
        for (int i = 0; i < step.calls().size(); i++) {
            if (step.calls().get(i).name().equals("launch") && ++seen == launch) {
                return i;
            }
        }
        throw new AssertionError("no launch of " + f);
    }
}
