package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.model.StepLogits;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingRule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUfunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The decode step as a CUDA graph, through {@link CudaBackend} on a recording fake device: the golden tiny K2.5
 * checkpoint cut to its first (dense) layer, and whole (two MoE layers, routed on the device). The fake computes
 * nothing, so what is held is the driver traffic: the first step of a bucket runs eagerly and then records exactly the same
 * launches into a graph; each later step of that bucket is one upload of the step inputs, one graph launch and the
 * sampling (its upload, one launch, one download); a batch in a new bucket captures once; without graphs
 * ({@code --enforce-eager}) no graph call is made; the MoE model's replayed step is one graph launch too.
 */
class DecodeGraphTrafficTest {
    static final int SEQS = 4;

    @Test
    void aReplayedDecodeStepIsOneGraphLaunchBesideItsUploadAndSampling(@TempDir Path dir) throws IOException {
        FakeDriver driver = new FakeDriver();
        try (CudaBackend backend = new CudaBackend(driver.open("fake"), CudaBackend.Options.FP32, "fake");
             Checkpoint ck = Checkpoint.open(denseTiny(dir))) {
            CudaContext ctx = backend.context();
            KimiTextModel model = KimiTextModel.load(ck, backend);
            assertArrayEquals(new int[] {1, 2, 4, 8}, model.captureDecodeGraphs(8));
            Sequences seqs = new Sequences(model);
            seqs.prefill();

            driver.reset();
            seqs.decode(SEQS);  // bucket 4: eager, then captured
            assertEquals(1, driver.calls("beginCapture").size());
            assertEquals(1, driver.calls("instantiate").size());
            assertEquals(0, driver.calls("launchGraph").size(), "the first step's result is its eager run's");
            List<CUfunction> eager = driver.launched(0, driver.captureFrom);
            List<CUfunction> captured = driver.launched(driver.captureFrom, driver.captureTo);
            assertFalse(captured.isEmpty());
            assertEquals(eager, captured, "the graph holds the eager step's launches, in order");
            assertEquals(model.config().numHiddenLayers(), captured.stream()
                    .filter(f -> f == ctx.function(KernelName.MLA_ABSORBED_F32)).count());
            assertEquals(0, captured.stream().filter(f -> f == ctx.function(KernelName.SAMPLE_ROWS)).count(),
                    "sampling stays outside the graph");

            for (int step = 0; step < 3; step++) {
                driver.reset();
                seqs.decode(SEQS);
                assertEquals(1, driver.calls("launchGraph").size(), "one graph launch");
                assertEquals(1, driver.calls("launch").size(), "besides the graph only the sampling launches");
                assertEquals(1, driver.launches(ctx, KernelName.SAMPLE_ROWS));
                assertEquals(2, driver.calls("copyToDevice").size(), "the step inputs and the sampling rows");
                assertEquals(1, driver.calls("copyToHost").size(), "the sampled ids and logprobs");
                assertEquals(4L * 2 * SEQS, driver.bytes("copyToHost"));
                assertEquals(0, driver.calls("beginCapture").size());
                assertEquals(0, driver.calls("alloc").size());
            }
            long stepInputs = driver.calls("copyToDevice").getFirst().args()[0] instanceof Long b ? b : -1;
            System.out.printf("replayed decode step of %d sequences: 1 graph of %d kernels, 1 sampling launch, %d B of"
                    + " step inputs up, %d B down%n", SEQS, captured.size(), stepInputs, driver.bytes("copyToHost"));

            driver.reset();
            seqs.decode(2);  // bucket 2: a new capture
            seqs.decode(2);
            seqs.decode(3);  // bucket 4 again: replayed
            assertEquals(1, driver.calls("beginCapture").size(), "bucket 2 captured once");
            assertEquals(2, driver.calls("launchGraph").size());
        }
    }

    @Test
    void withoutGraphsNoGraphCallIsMade(@TempDir Path dir) throws IOException {
        FakeDriver driver = new FakeDriver();
        try (CudaBackend backend = new CudaBackend(driver.open("fake"), CudaBackend.Options.FP32, "fake");
             Checkpoint ck = Checkpoint.open(denseTiny(dir))) {
            KimiTextModel model = KimiTextModel.load(ck, backend);  // --enforce-eager: graphs never turned on
            Sequences seqs = new Sequences(model);
            seqs.prefill();
            for (int n : new int[] {4, 4, 2, 1, 3}) {
                seqs.decode(n);
            }
            for (String call : List.of("beginCapture", "endCapture", "instantiate", "launchGraph")) {
                assertEquals(0, driver.calls(call).size(), call);
            }
        }
    }

    @Test
    void theMoeModelsReplayedDecodeStepIsOneGraphLaunchToo() throws IOException {
        Path golden = Path.of(System.getProperty("peregrine.testdata", "../testdata")).resolve("golden");
        FakeDriver driver = new FakeDriver();
        try (CudaBackend backend = new CudaBackend(driver.open("fake"), CudaBackend.Options.FP32, "fake");
             Checkpoint ck = Checkpoint.open(golden.resolve("tiny-k25"))) {
            CudaContext ctx = backend.context();
            KimiTextModel model = KimiTextModel.load(ck, backend);
            model.captureDecodeGraphs(8);
            Sequences seqs = new Sequences(model);
            seqs.prefill();
            driver.reset();
            seqs.decode(SEQS);
            assertEquals(1, driver.calls("instantiate").size(), "routing on the device: nothing refuses the capture");
            List<CUfunction> eager = driver.launched(0, driver.captureFrom);
            List<CUfunction> captured = driver.launched(driver.captureFrom, driver.captureTo);
            assertEquals(eager, captured, "the graph holds the eager step's launches, MoE blocks included");
            for (int step = 0; step < 3; step++) {
                driver.reset();
                seqs.decode(step == 2 ? 3 : SEQS);  // 3 sequences: the same bucket, padded
                assertEquals(1, driver.calls("launchGraph").size(), "one graph launch");
                assertEquals(1, driver.calls("launch").size(), "besides the graph only the sampling launches");
                assertEquals(1, driver.launches(ctx, KernelName.SAMPLE_ROWS));
                assertEquals(2, driver.calls("copyToDevice").size(), "the step inputs and the sampling rows");
                assertEquals(1, driver.calls("copyToHost").size(), "only the sampled ids and logprobs");
                assertEquals(0, driver.calls("beginCapture").size());
                assertEquals(0, driver.calls("alloc").size());
            }
            System.out.printf("replayed decode step of the tiny MoE model (3 layers, 2 MoE): 1 graph of %d kernels%n",
                    captured.size());
        }
    }

    /** The golden tiny checkpoint with {@code num_hidden_layers} 1: its dense layer 0 only (the rest unused). */
    static Path denseTiny(Path dir) throws IOException {
        Path golden = Path.of(System.getProperty("peregrine.testdata", "../testdata")).resolve("golden")
                .resolve("tiny-k25").toAbsolutePath();
        Path out = Files.createDirectories(dir.resolve("tiny-k25-dense"));
        try (var files = Files.list(golden)) {
            for (Path f : files.toList()) {
                if (!f.getFileName().toString().equals("config.json")) {
                    Files.copy(f, out.resolve(f.getFileName()));  // 1.2 MB; a link outside @TempDir makes JUnit warn
                }
            }
        }
        String cfg = Files.readString(golden.resolve("config.json"));
        String cut = cfg.replace("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 1");
        if (cut.equals(cfg)) {
            throw new IllegalStateException("tiny-k25 config no longer says num_hidden_layers 3");
        }
        Files.writeString(out.resolve("config.json"), cut);
        return out;
    }

    /** Sequences on a 64-block cache, each with its own two blocks; decodes of the first n with greedy sampling. */
    private static final class Sequences {
        final KimiTextModel model;
        final LatentCache cache;
        final int[] length = new int[SEQS];
        final int[] last = new int[SEQS];
        final TokenCounts[] counts = new TokenCounts[SEQS];
        final SamplingBatch batch = new SamplingBatch();
        final SamplingRule greedy = new SamplingRule(0, 1, 0, 0, 0, 0, 1.1);

        Sequences(KimiTextModel model) {
            this.model = model;
            this.cache = model.newCache(64, 16);
        }

        void prefill() {
            List<SequenceSlice> slices = new ArrayList<>();
            for (int s = 0; s < SEQS; s++) {
                int[] prompt = {1792, 100 + s, 200 + s, 300 + s, 7 + s};
                counts[s] = model.tokenCounts(prompt, prompt.length);
                slices.add(new SequenceSlice(prompt, 0, table(s), false));
                length[s] = prompt.length;
            }
            sample(model.step(slices, cache), SEQS);
        }

        void decode(int n) {
            List<SequenceSlice> slices = new ArrayList<>();
            for (int s = 0; s < n; s++) {
                slices.add(new SequenceSlice(new int[] {last[s]}, length[s]++, table(s), false));
            }
            sample(model.step(slices, cache), n);
        }

        private void sample(StepLogits logits, int n) {
            batch.clear();
            for (int s = 0; s < n; s++) {
                batch.add(s, greedy, counts[s], 0, null, -1);
            }
            logits.sample(batch);
            for (int s = 0; s < n; s++) {
                last[s] = batch.token(s);
            }
        }

        private static int[] table(int s) {
            return new int[] {2 * s, 2 * s + 1};
        }
    }
}
