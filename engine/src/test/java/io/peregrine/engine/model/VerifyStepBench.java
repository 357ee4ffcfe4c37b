package io.peregrine.engine.model;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingRule;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Speculative decoding's verification cost: one step in which each of {@code batch} sequences scores {@code k + 1}
 * tokens (its last token and k drafts, all-logits slices, naive attention over a 64..319-token context) and samples
 * every row greedily, on {@link DecodeStepBench}'s synthetic model. {@code k = 0} is the plain decode step (one
 * token per sequence, absorbed attention). Run with {@code scripts/bench-kernels.sh VerifyStepBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class VerifyStepBench {
    private static final int BLOCKS_PER_SEQUENCE = 21; // 64 + 256 + 8 positions of 16-slot blocks

    @Param({"0", "1", "2", "4", "8"})
    public int k;

    @Param({"1", "8"})
    public int batch;

    private Checkpoint checkpoint;
    private CpuBackend backend;
    private KimiTextModel model;
    private LatentCache cache;
    private int[][] tables;
    private int pos;
    private final SamplingBatch sampling = new SamplingBatch();
    private static final SamplingRule GREEDY = new SamplingRule(0, 1, 0, 0, 0, 0, 1);

    @Setup(Level.Trial)
    public void setup() throws IOException {
        checkpoint = Checkpoint.open(DecodeStepBench.checkpointDir());
        backend = new CpuBackend(Runtime.getRuntime().availableProcessors());
        model = KimiTextModel.load(checkpoint, backend);
        cache = new LatentCache(DecodeStepBench.SHAPE.layers(), batch * BLOCKS_PER_SEQUENCE, 16,
                model.config().kvCacheWidth());
        tables = new int[batch][BLOCKS_PER_SEQUENCE];
        List<SequenceSlice> prompts = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int first = b * BLOCKS_PER_SEQUENCE;
            java.util.Arrays.setAll(tables[b], i -> first + i);
            int[] prompt = new int[DecodeStepBench.CONTEXT];
            int seed = b;
            java.util.Arrays.setAll(prompt, i -> (i * 7919 + seed * 31) % DecodeStepBench.SHAPE.vocab());
            prompts.add(new SequenceSlice(prompt, 0, tables[b], false));
        }
        model.forward(prompts, cache);
        pos = DecodeStepBench.CONTEXT;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        checkpoint.close();
    }

    @Benchmark
    public int verifyStep() {
        List<SequenceSlice> slices = new ArrayList<>(batch);
        int vocab = DecodeStepBench.SHAPE.vocab();
        for (int b = 0; b < batch; b++) {
            int[] tokens = new int[k + 1];
            for (int j = 0; j <= k; j++) {
                tokens[j] = (pos * 31 + b * 7 + j * 13) % vocab;
            }
            slices.add(new SequenceSlice(tokens, pos, tables[b], k > 0));
        }
        StepLogits logits = model.step(slices, cache);
        sampling.clear();
        for (int r = 0; r < batch * (k + 1); r++) {
            sampling.add(r, GREEDY, null, 0.0, null, -1);
        }
        logits.sample(sampling);
        pos = pos + 1 == DecodeStepBench.CONTEXT + 256 ? DecodeStepBench.CONTEXT : pos + 1;
        return sampling.token(0);
    }
}
