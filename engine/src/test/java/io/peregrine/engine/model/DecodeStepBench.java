package io.peregrine.engine.model;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One decode step (one token, absorbed attention over a 64..319-token context) of a random model whose active
 * weights per token ({@link #activeBytes}) are far larger than the last-level cache: K2.5's attention and expert
 * shapes at hidden 7168 would not fit this machine's memory budget, so the widths are scaled down but kept
 * K2.5-like (INT4 experts, BF16 attention, 8 of 64 experts).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class DecodeStepBench {
    static final SyntheticCheckpoint.Shape SHAPE =
            new SyntheticCheckpoint.Shape(16384, 2048, 5, 16, 768, 512, 128, 64, 128, 8192, 1024, 64, 8);
    static final int CONTEXT = 64;

    private Checkpoint checkpoint;
    private CpuBackend backend;
    private KimiTextModel model;
    private LatentCache cache;
    private int[] table;
    private int pos;

    /** The synthetic checkpoint, written on first use and reused by later runs. */
    public static Path checkpointDir() throws IOException {
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "peregrine-decode-bench-" + Integer.toHexString(SHAPE.hashCode()));
        if (!Files.exists(dir.resolve("model.safetensors"))) {
            SyntheticCheckpoint.write(dir, SHAPE);
        }
        return dir;
    }

    @Setup(Level.Trial)
    public void setup() throws IOException {
        checkpoint = Checkpoint.open(checkpointDir());
        backend = new CpuBackend(Runtime.getRuntime().availableProcessors());
        model = KimiTextModel.load(checkpoint, backend);
        cache = new LatentCache(SHAPE.layers(), 32, 16, model.config().kvCacheWidth());
        table = new int[32];
        java.util.Arrays.setAll(table, i -> i);
        int[] prompt = new int[CONTEXT];
        java.util.Arrays.setAll(prompt, i -> (i * 7919) % SHAPE.vocab());
        model.forward(List.of(new SequenceSlice(prompt, 0, table, false)), cache);
        pos = CONTEXT;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        backend.close();
        checkpoint.close();
    }

    @Benchmark
    public float decodeStep() {
        float[] logits = model.forward(List.of(new SequenceSlice(new int[] {pos % SHAPE.vocab()}, pos, table, false)), cache)
                .getFirst()[0];
        pos = pos + 1 == CONTEXT + 256 ? CONTEXT : pos + 1;
        return logits[0];
    }

    /** Weight bytes one decode token reads: attention, dense or shared MLP, router, top-k experts, lm_head. */
    public static long activeBytes() {
        SyntheticCheckpoint.Shape s = SHAPE;
        long attn = 2L * ((long) s.qLora() * s.hidden() + (long) s.heads() * (s.nope() + s.rope()) * s.qLora()
                + (long) (s.kvLora() + s.rope()) * s.hidden() + (long) s.heads() * (s.nope() + s.vDim()) * s.kvLora()
                + (long) s.hidden() * s.heads() * s.vDim());
        long dense = 2L * 3 * s.hidden() * s.denseInter();
        long shared = 2L * 3 * s.hidden() * s.moeInter();
        long router = 2L * s.experts() * s.hidden();
        long expert = 3L * s.hidden() * s.moeInter() / 2 + 3L * s.hidden() * s.moeInter() / 32 * 2;
        long moeLayer = shared + router + s.topK() * expert;
        return s.layers() * attn + dense + (s.layers() - 1) * moeLayer + 2L * s.vocab() * s.hidden();
    }

}
