package io.peregrine.kernels.check;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sample.SamplingRule;
import io.peregrine.kernels.cuda.TrafficCounter;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * TPOT of the engine's own decode step (forward + sampling in the backend, which returns once the ids are on the
 * host) at batch 1, 8 and 32, with decode graphs or eagerly ({@code --enforce-eager}): each batch is prefilled with
 * {@link #PROMPT}-token prompts, decoded {@link #WARM} steps (a graph bucket is captured there) and then
 * {@link #STEPS} timed steps. With a {@link TrafficCounter} on the backend it also gives, per step, the kernel
 * launches the host issued, the graph launches (and the kernels each graph holds), host↔device bytes and stream
 * synchronisations. The weight bytes a step must read ({@link #weightBytesPerStep}) over its time give the achieved
 * bandwidth, against the copy ceiling.
 */
final class DecodeTpot {
    static final int[] BATCHES = {1, 8, 32};
    static final int PROMPT = 32;
    static final int WARM = 3;
    static final int STEPS = 16;
    private static final int BLOCK = 16;

    /** One timed batch: per-step means. {@code graphKernels}: kernels recorded per capture in the warm-up (0: none). */
    record Row(String mode, int batch, double ms, double launches, double graphLaunches, long graphKernels,
               double bytesUp, double bytesDown, double syncs, long weightBytes) {}

    private DecodeTpot() {}

    /** Every batch of {@link #BATCHES} on {@code backend} (a fresh model per call: graphs are turned on once). */
    static List<Row> measure(Checkpoint ck, Backend backend, TrafficCounter counter, boolean graphs, int steps) {
        KimiTextModel model = KimiTextModel.load(ck, backend);
        String mode = !graphs ? "eager" : model.captureDecodeGraphs(BATCHES[BATCHES.length - 1]).length > 0 ? "graphs"
                : "graphs (none on " + backend.name() + ")";
        TextConfig cfg = model.config();
        List<Row> rows = new ArrayList<>();
        for (int batch : BATCHES) {
            int blocksPerSeq = (PROMPT + WARM + steps) / BLOCK + 1;
            LatentCache cache = model.newCache(batch * blocksPerSeq, BLOCK);
            int[][] tables = new int[batch][blocksPerSeq];
            int[] pos = new int[batch];
            SamplingBatch sampling = new SamplingBatch();
            SamplingRule greedy = SamplingParams.greedy(1).rule();
            List<SequenceSlice> step = new ArrayList<>();
            for (int s = 0; s < batch; s++) {
                for (int b = 0; b < blocksPerSeq; b++) {
                    tables[s][b] = s * blocksPerSeq + b;
                }
                int[] prompt = new int[PROMPT];
                for (int i = 0; i < PROMPT; i++) {
                    prompt[i] = (1000 + 37 * i + 101 * s) % cfg.vocabSize();
                }
                TokenCounts counts = model.tokenCounts(prompt, prompt.length);
                step.add(new SequenceSlice(prompt, 0, tables[s], false));
                sampling.add(s, greedy, counts, 0, null, -1);
                pos[s] = PROMPT;
            }
            model.step(step, cache).sample(sampling);
            reset(counter);
            decode(model, cache, step, sampling, tables, pos, WARM);
            long graphKernels = counter == null ? 0 : counter.captured();
            reset(counter);
            long t0 = System.nanoTime();
            decode(model, cache, step, sampling, tables, pos, steps);
            double ms = (System.nanoTime() - t0) / 1e6 / steps;
            rows.add(counter == null
                    ? new Row(mode, batch, ms, -1, -1, 0, -1, -1, -1, weightBytesPerStep(ck, cfg, batch))
                    : new Row(mode, batch, ms, (double) counter.launches() / steps,
                            (double) counter.graphLaunches() / steps, graphKernels, (double) counter.bytesUp() / steps,
                            (double) counter.bytesDown() / steps, (double) counter.synchronisations() / steps,
                            weightBytesPerStep(ck, cfg, batch)));
        }
        return rows;
    }

    private static void decode(KimiTextModel model, LatentCache cache, List<SequenceSlice> step, SamplingBatch sampling,
                               int[][] tables, int[] pos, int n) {
        for (int i = 0; i < n; i++) {
            step.clear();
            for (int s = 0; s < tables.length; s++) {
                step.add(new SequenceSlice(new int[] {sampling.token(s)}, pos[s]++, tables[s], false));
            }
            model.step(step, cache).sample(sampling);
        }
    }

    private static void reset(TrafficCounter counter) {
        if (counter != null) {
            counter.reset();
        }
    }

    /**
     * The weight bytes a decode step of {@code batch} tokens must read: every text weight once (attention, dense and
     * shared MLPs, norms, lm_head), the embedding only for its rows, and of each MoE layer's routed experts the
     * expected number of distinct ones {@code E·(1 − (1 − k/E)^batch)} for independent uniform routing.
     */
    static long weightBytesPerStep(Checkpoint ck, TextConfig cfg, int batch) {
        double experts = cfg.nRoutedExperts();
        double touched = experts == 0 ? 0 : experts * (1 - Math.pow(1 - cfg.numExpertsPerTok() / experts, batch));
        double bytes = 0;
        for (Map.Entry<String, Tensor> e : ck.tensors().entrySet()) {
            String name = e.getKey();
            long size = e.getValue().data().byteSize();
            if (name.contains("vision_tower") || name.contains("mm_projector") || name.contains("multi_modal")) {
                continue;
            }
            if (name.contains("embed_tokens")) {
                long[] shape = e.getValue().shape();
                bytes += (double) size / shape[0] * Math.min(batch, shape[0]);
            } else if (name.contains(".mlp.experts.")) {
                bytes += size * touched / experts;
            } else {
                bytes += size;
            }
        }
        return (long) bytes;
    }

    /** The table: one row per mode and batch; GB/s of weight bytes read and its share of {@code copyGBs} (if > 0). */
    static void print(List<Row> rows, double copyGBs, PrintStream out) {
        out.println("| mode | batch | TPOT ms | tok/s | weight GB/s | of copy | launches/step | graph launches/step "
                + "| kernels per graph | B up/step | B down/step | syncs/step |");
        out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (Row r : rows) {
            double gbs = r.weightBytes() / (r.ms() / 1e3) / 1e9;
            out.printf("| %s | %d | %.3f | %.0f | %.1f | %s | %s | %s | %s | %s | %s | %s |%n", r.mode(), r.batch(),
                    r.ms(), r.batch() * 1e3 / r.ms(), gbs, copyGBs > 0 ? String.format("%.0f%%", 100 * gbs / copyGBs) : "-",
                    count(r.launches()), count(r.graphLaunches()), r.graphKernels() > 0 ? r.graphKernels() : "-",
                    count(r.bytesUp()), count(r.bytesDown()), count(r.syncs()));
        }
    }

    private static String count(double v) {
        return v < 0 ? "-" : v == Math.rint(v) ? String.valueOf((long) v) : String.format("%.1f", v);
    }
}
