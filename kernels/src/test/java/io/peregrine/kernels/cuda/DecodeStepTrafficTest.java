package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingRule;
import io.peregrine.engine.backend.TokenCounts;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The golden tiny K2.5 checkpoint's decode step through {@link CudaBackend} on a recording fake device: what a step
 * uploads, downloads and launches, counted. The fake computes nothing (downloads leave the host arrays as they are),
 * which is enough to see the traffic, and pins down what still stands between the step and a CUDA graph: besides the
 * step inputs and the sampled ids, each MoE layer downloads its router logits and uploads its routing (the host
 * decides the routing, one synchronisation per MoE layer). The attention is one launch per layer for all rows.
 */
class DecodeStepTrafficTest {
    static final int SEQS = 4;

    @Test
    void aDecodeStepMovesItsInputsItsIdsAndOneRoutingRoundTripPerMoeLayer() {
        Path golden = Path.of(System.getProperty("peregrine.testdata", "../testdata")).resolve("golden");
        FakeDriver driver = new FakeDriver();
        try (CudaBackend backend = new CudaBackend(driver.open("fake"), CudaBackend.Options.FP32, "fake");
             Checkpoint ck = Checkpoint.open(golden.resolve("tiny-k25"))) {
            CudaContext ctx = backend.context();
            KimiTextModel model = KimiTextModel.load(ck, backend);
            TextConfig cfg = model.config();
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
            List<SequenceSlice> decode = new ArrayList<>();
            for (int s = 0; s < SEQS; s++) {
                decode.add(new SequenceSlice(new int[] {batch.token(s)}, prompts[s].length, new int[] {2 * s, 2 * s + 1}, false));
            }
            model.step(decode, cache).sample(batch);  // the decode workspace sized
            driver.reset();

            model.step(decode, cache).sample(batch);

            int moeLayers = 0;
            for (int l = 0; l < cfg.numHiddenLayers(); l++) {
                if (cfg.isMoeLayer(l)) {
                    moeLayers++;
                }
            }
            long routerLogits = 4L * SEQS * cfg.nRoutedExperts();
            long ids = 4L * 2 * SEQS;
            long down = driver.bytes("copyToHost");
            System.out.printf("decode step of %d sequences on the tiny model (%d layers, %d MoE): %d launches, "
                            + "%d B up in %d copies, %d B down in %d copies, %d synchronisations%n", SEQS,
                    cfg.numHiddenLayers(), moeLayers, driver.calls("launch").size(), driver.bytes("copyToDevice"),
                    driver.calls("copyToDevice").size(), down, driver.calls("copyToHost").size(),
                    driver.calls("synchronize").size());
            assertEquals(1, driver.launches(ctx, KernelName.SAMPLE_ROWS), "sampled on the device");
            assertEquals(cfg.numHiddenLayers(), driver.launches(ctx, KernelName.MLA_ABSORBED_F32),
                    "one attention launch per layer for every decode row");
            assertEquals(ids + moeLayers * routerLogits, down,
                    "downloads: the sampled ids and logprobs, and each MoE layer's router logits — nothing else");
            assertEquals(moeLayers + 1, driver.calls("copyToHost").size());
            assertEquals(0, driver.calls("alloc").size(), "a decode step of a seen size allocates nothing");
        }
    }
}
