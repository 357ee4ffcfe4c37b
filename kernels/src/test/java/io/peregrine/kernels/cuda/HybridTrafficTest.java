package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.ExpertPlacement;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingRule;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The hybrid MoE step (issue 20) with {@link CudaBackend} as the primary, on a recording fake device, and a CPU host
 * backend: a decode step with every routed expert on the host moves, beyond what the same step moves with every
 * expert on the device (routed there, nothing down), exactly each MoE layer's router logits and routed rows down (one
 * copy each: the host routes), and the routing's row map and weights (one copy each) and the host experts' outputs up. And a
 * streamed expert's device memory is freed after the stream has finished with it. The fake computes nothing, so only
 * the traffic is checked; the values wait for a device run.
 */
class HybridTrafficTest {
    private static final int SEQS = 4;
    private static final Path GOLDEN = Path.of(System.getProperty("peregrine.testdata", "../testdata")).resolve("golden");

    @Test
    void expertsOnTheHostCostOneCopyOfTheRoutedRowsEachWayPerMoeLayer() {
        try (Checkpoint ck = Checkpoint.open(GOLDEN.resolve("tiny-k25"))) {
            TextConfig cfg = ck.config().text();
            long[] plain = decodeTraffic(ck, ExpertPlacement.primary(cfg));
            long[] hybrid = decodeTraffic(ck, ExpertPlacement.host(cfg));
            int moeLayers = 0;
            for (int l = 0; l < cfg.numHiddenLayers(); l++) {
                moeLayers += cfg.isMoeLayer(l) ? 1 : 0;
            }
            long rows = 4L * SEQS * cfg.numExpertsPerTok() * cfg.hiddenSize();
            long logits = 4L * SEQS * cfg.nRoutedExperts();
            long routing = 2 * 4L * SEQS * cfg.numExpertsPerTok(); // the row map (int) and the weights (float)
            System.out.printf("hybrid decode step of %d sequences: %d B more down in %d more copies, %d B more up "
                    + "in %d more copies than all on the device%n", SEQS, hybrid[0] - plain[0], hybrid[1] - plain[1],
                    hybrid[2] - plain[2], hybrid[3] - plain[3]);
            assertEquals(moeLayers * (logits + rows), hybrid[0] - plain[0],
                    "bytes down: the router logits and the routed rows of each MoE layer");
            assertEquals(2 * moeLayers, hybrid[1] - plain[1], "two copies down per MoE layer");
            assertEquals(moeLayers * (routing + rows), hybrid[2] - plain[2],
                    "bytes up: the routing and the host experts' outputs");
            assertEquals(3 * moeLayers, hybrid[3] - plain[3], "three copies up per MoE layer");
        }
    }

    @Test
    void aStreamedExpertIsFreedAfterTheStreamSynchronises() {
        FakeDriver driver = new FakeDriver();
        try (CudaBackend backend = new CudaBackend(driver.open("fake"), CudaBackend.Options.FP32, "fake");
             Checkpoint ck = Checkpoint.open(GOLDEN.resolve("tiny-k25"))) {
            String root = ck.has("language_model.model.embed_tokens.weight") ? "language_model." : "";
            Int4Group32 q = Int4Group32.of(ck, root + "model.layers.1.mlp.experts.0.gate_proj");
            driver.reset();
            LinearWeight w = backend.uploadTransient(q);
            assertEquals(2, driver.calls("alloc").size(), "words and scales");
            assertEquals(0, driver.calls("free").size());
            driver.reset();
            backend.release(w);
            List<String> after;
            synchronized (driver.calls) {
                after = driver.calls.stream().map(FakeDriver.Call::name)
                        .filter(c -> c.equals("synchronize") || c.equals("free")).toList();
            }
            assertEquals("synchronize", after.getFirst(), "the stream first: its products may still read the weight");
            assertEquals(2, after.stream().filter("free"::equals).count(), "words and scales freed: " + after);
        }
    }

    /** {bytes down, copies down, bytes up, copies up} of the third decode step (sizes seen, so nothing allocated). */
    private static long[] decodeTraffic(Checkpoint ck, ExpertPlacement placement) {
        FakeDriver driver = new FakeDriver();
        try (CudaBackend backend = new CudaBackend(driver.open("fake"), CudaBackend.Options.FP32, "fake");
             CpuBackend host = new CpuBackend(1)) {
            KimiTextModel model = KimiTextModel.load(ck, backend, host, placement, p -> { });
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
                decode.add(new SequenceSlice(new int[] {batch.token(s)}, prompts[s].length, new int[] {2 * s, 2 * s + 1},
                        false));
            }
            model.step(decode, cache).sample(batch);
            driver.reset();
            model.step(decode, cache).sample(batch);
            return new long[] {driver.bytes("copyToHost"), driver.calls("copyToHost").size(),
                    driver.bytes("copyToDevice"), driver.calls("copyToDevice").size()};
        }
    }
}
