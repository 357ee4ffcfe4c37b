package io.peregrine.kernels.check;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingRule;
import io.peregrine.kernels.cuda.TrafficCounter;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The engine's own decode step on a backend, per batch size: the golden tiny checkpoint, {@code batch} sequences
 * prefilled, two warm-up decode steps, then {@link #STEPS} measured ones (forward + sampling in the backend, which
 * returns only when the ids are on the host), with the launches, host↔device bytes and synchronisations per step
 * when a {@link TrafficCounter} watches the backend. Eager (the tiny model's MoE layers route on the host, and
 * {@link DecodeTpot} compares graphs with eager); on the tiny model the time is launch and host overhead, not weight
 * bandwidth.
 */
final class StepTraffic {
    static final int STEPS = 8;
    static final int[] BATCHES = {1, 8, 32};
    private static final int BLOCK = 16;

    private StepTraffic() {}

    /** Prints one row per batch size; returns the sampled ids of the last step at the largest batch (a smoke value). */
    static int[] run(Path golden, Backend backend, TrafficCounter counter, PrintStream out) {
        try (Checkpoint ck = Checkpoint.open(golden.resolve("tiny-k25"))) {
            KimiTextModel model = KimiTextModel.load(ck, backend);
            int vocab = model.config().vocabSize();
            out.printf("decode step on %s (golden tiny model, eager, greedy with a repetition penalty)%n", backend.name());
            out.println("| batch | ms/step | launches/step | B up/step | B down/step | syncs/step |");
            out.println("|---:|---:|---:|---:|---:|---:|");
            int[] last = new int[0];
            for (int batch : BATCHES) {
                int blocksPerSeq = (6 + 2 + STEPS) / BLOCK + 1;
                LatentCache cache = model.newCache(batch * blocksPerSeq, BLOCK);
                List<SequenceSlice> step = new ArrayList<>();
                int[][] tables = new int[batch][blocksPerSeq];
                SamplingBatch sampling = new SamplingBatch();
                SamplingRule rule = new SamplingRule(0, 1, 0, 0, 0, 0, 1.05);
                for (int s = 0; s < batch; s++) {
                    for (int b = 0; b < blocksPerSeq; b++) {
                        tables[s][b] = s * blocksPerSeq + b;
                    }
                    int[] prompt = {1792, (100 + 7 * s) % vocab, (300 + 11 * s) % vocab, (500 + s) % vocab, 7, 9};
                    TokenCounts counts = model.tokenCounts(prompt, prompt.length);
                    step.add(new SequenceSlice(prompt, 0, tables[s], false));
                    sampling.add(s, rule, counts, 0, null, -1);
                }
                model.step(step, cache).sample(sampling);
                int[] pos = new int[batch];
                for (int s = 0; s < batch; s++) {
                    pos[s] = step.get(s).tokens().length;
                }
                long t0 = 0;
                for (int i = 0; i < 2 + STEPS; i++) {
                    if (i == 2) {
                        if (counter != null) {
                            counter.reset();
                        }
                        t0 = System.nanoTime();
                    }
                    step.clear();
                    for (int s = 0; s < batch; s++) {
                        step.add(new SequenceSlice(new int[] {sampling.token(s)}, pos[s]++, tables[s], false));
                    }
                    model.step(step, cache).sample(sampling);
                }
                double ms = (System.nanoTime() - t0) / 1e6 / STEPS;
                if (counter != null) {
                    out.printf("| %d | %.3f | %d | %d | %d | %d |%n", batch, ms, counter.launches() / STEPS,
                            counter.bytesUp() / STEPS, counter.bytesDown() / STEPS, counter.synchronisations() / STEPS);
                } else {
                    out.printf("| %d | %.3f | - | - | - | - |%n", batch, ms);
                }
                last = new int[batch];
                for (int s = 0; s < batch; s++) {
                    last[s] = sampling.token(s);
                }
            }
            return last;
        }
    }
}
