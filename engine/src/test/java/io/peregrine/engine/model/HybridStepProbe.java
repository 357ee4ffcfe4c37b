package io.peregrine.engine.model;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The hybrid MoE step on this machine's CPU-only stand-in (scripts/bench-hybrid.sh; not a test): two CPU backends
 * for "GPU" and "host", every routed expert on the host, against one CPU backend. Decode steps of a few sequences and
 * a long prefill chunk; per step the parts {@link HybridStats} times (route, copy out, host experts, primary =
 * shared expert, wait, copy back, combine) and the overlap achieved; the long chunk once with every host expert
 * computed on the host and once streamed; every logits row compared with the one-backend model's (the largest
 * difference; 0 is bit for bit), the reference being the second one-backend run of the JVM.
 *
 * <p>Args: {@code [preset] [checkpoint dir] [decode steps] [chunk tokens]}; default bench, /tmp/peregrine-bench-ck,
 * 32, 256.
 */
public final class HybridStepProbe {
    private static final int BLOCK = 16;

    public static void main(String[] args) throws Exception {
        String preset = args.length > 0 ? args[0] : "bench";
        Path dir = Path.of(args.length > 1 ? args[1] : "/tmp/peregrine-bench-ck");
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 32;
        int chunk = args.length > 3 ? Integer.parseInt(args[3]) : 256;
        int cores = Runtime.getRuntime().availableProcessors();
        try (Checkpoint ck = Checkpoint.open(DemoCheckpoint.ensure(dir, preset))) {
            TextConfig c = ck.config().text();
            System.out.printf(Locale.ROOT, "preset %s: hidden %d, %d layers, %d routed experts top-%d, moe_inter %d; "
                    + "%d cores seen%n", preset, c.hiddenSize(), c.numHiddenLayers(), c.nRoutedExperts(),
                    c.numExpertsPerTok(), c.moeIntermediateSize(), cores);
            Run ref;
            try (CpuBackend one = new CpuBackend(cores)) {
                // the first run in a JVM is not the reference: until the kernels are C2-compiled some products run
                // the Vector API's fallback code, whose lane reductions add in another order (last bits differ)
                run("one backend, " + cores + " threads (JIT warm-up)", KimiTextModel.load(ck, one), steps, chunk, null);
                ref = run("one backend, " + cores + " threads", KimiTextModel.load(ck, one), steps, chunk, null);
            }
            for (int[] t : new int[][] {{1, 1}, {cores, cores}}) {
                try (CpuBackend primary = new CpuBackend(t[0]); CpuBackend host = new CpuBackend(t[1])) {
                    ExpertStreaming calibrated = ExpertStreaming.calibrate(ck, primary, host);
                    System.out.println("calibrated streaming (primary " + t[0] + " + host " + t[1] + " threads): "
                            + calibrated);
                    for (ExpertStreaming s : List.of(ExpertStreaming.NEVER, new ExpertStreaming(1, 0, 0, 0, 0, 1))) {
                        KimiTextModel m = KimiTextModel.load(ck, primary, host, ExpertPlacement.host(c), s, p -> { });
                        run("hybrid cpu placement, primary " + t[0] + " + host " + t[1] + " threads"
                                + (s == ExpertStreaming.NEVER ? "" : ", every host expert streamed"), m, steps, chunk,
                                ref);
                    }
                }
            }
        }
    }

    /** Logits of the chunk and of every decode step, and the times. */
    private record Run(List<float[][]> logits) {}

    private static Run run(String name, KimiTextModel model, int steps, int chunkTokens, Run ref) {
        TextConfig c = model.config();
        int seqs = 4;
        int blocks = (chunkTokens + steps + 2 * BLOCK) / BLOCK + 1;
        LatentCache cache = model.newCache(seqs * blocks + 4, BLOCK);
        int[][] tables = new int[seqs][blocks];
        for (int s = 0; s < seqs; s++) {
            for (int b = 0; b < blocks; b++) {
                tables[s][b] = s * blocks + b;
            }
        }
        List<float[][]> logits = new ArrayList<>();
        // warm-up: a short prefill of every sequence (the kernels compiled), not timed
        int[] lengths = new int[seqs];
        List<SequenceSlice> warm = new ArrayList<>();
        for (int s = 0; s < seqs; s++) {
            int[] p = new int[8];
            for (int i = 0; i < p.length; i++) {
                p[i] = (i * 31 + s * 7 + 3) % c.vocabSize();
            }
            warm.add(new SequenceSlice(p, 0, tables[s], false));
            lengths[s] = p.length;
        }
        logits.addAll(model.forward(warm, cache));
        HybridStats st = model.hybridStats();
        long[] before = snapshot(st);
        long t0 = System.nanoTime();
        int[] prompt = new int[chunkTokens];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = (i * 17 + 5) % c.vocabSize();
        }
        logits.addAll(model.forward(List.of(new SequenceSlice(prompt, lengths[0], tables[0], false)), cache));
        long chunkNanos = System.nanoTime() - t0;
        lengths[0] += chunkTokens;
        long[] afterChunk = snapshot(st);
        long t1 = System.nanoTime();
        for (int step = 0; step < steps; step++) {
            List<SequenceSlice> decode = new ArrayList<>();
            for (int s = 0; s < seqs; s++) {
                decode.add(new SequenceSlice(new int[] {(step * 13 + s) % c.vocabSize()}, lengths[s]++, tables[s], false));
            }
            logits.addAll(model.forward(decode, cache));
        }
        long decodeNanos = System.nanoTime() - t1;
        long[] afterDecode = snapshot(st);
        double diff = ref == null ? 0 : maxAbsDiff(ref.logits, logits);
        System.out.printf(Locale.ROOT, "%n%s%n  prefill chunk of %d tokens: %.1f ms (%.0f tokens/s)%n"
                        + "  decode, %d sequences: %.2f ms per step (%.1f tokens/s)%s%n", name, chunkTokens,
                chunkNanos / 1e6, chunkTokens / (chunkNanos / 1e9), seqs, decodeNanos / 1e6 / steps,
                seqs * steps / (decodeNanos / 1e9), ref == null ? "" : diff == 0 ? "; logits bit-identical to one backend"
                        : String.format(Locale.ROOT, "; LOGITS DIFFER from one backend's by up to %.2g", diff));
        if (st.layerSteps() > 0) {
            parts("  chunk, per step", before, afterChunk, 1);
            parts("  decode, per step", afterChunk, afterDecode, steps);
        }
        return new Run(logits);
    }

    private static void parts(String what, long[] a, long[] b, int steps) {
        StringBuilder out = new StringBuilder(what).append(':');
        HybridStats.Part[] parts = HybridStats.Part.values();
        for (int i = 0; i < parts.length; i++) {
            out.append(String.format(Locale.ROOT, " %s %.2f ms", parts[i].name().toLowerCase(Locale.ROOT),
                    (b[i] - a[i]) / 1e6 / steps));
        }
        int n = parts.length;
        long host = b[HybridStats.Part.HOST_EXPERTS.ordinal()] - a[HybridStats.Part.HOST_EXPERTS.ordinal()];
        long prim = b[HybridStats.Part.PRIMARY.ordinal()] - a[HybridStats.Part.PRIMARY.ordinal()];
        long overlap = b[HybridStats.Part.OVERLAP.ordinal()] - a[HybridStats.Part.OVERLAP.ordinal()];
        out.append(String.format(Locale.ROOT, "; overlap %.0f%% of the shorter side; copies %.1f KB down + %.1f KB up; "
                        + "host experts kept %d, streamed %d", 100.0 * overlap / Math.max(1, Math.min(host, prim)),
                (b[n] - a[n]) / 1e3 / steps, (b[n + 1] - a[n + 1]) / 1e3 / steps, (b[n + 2] - a[n + 2]),
                b[n + 3] - a[n + 3]));
        System.out.println(out);
    }

    private static long[] snapshot(HybridStats s) {
        HybridStats.Part[] parts = HybridStats.Part.values();
        long[] v = new long[parts.length + 4];
        for (int i = 0; i < parts.length; i++) {
            v[i] = s.nanos(parts[i]);
        }
        v[parts.length] = s.bytesToHost();
        v[parts.length + 1] = s.bytesToPrimary();
        v[parts.length + 2] = s.hostComputedExperts();
        v[parts.length + 3] = s.streamedExperts();
        return v;
    }

    private static double maxAbsDiff(List<float[][]> a, List<float[][]> b) {
        double max = 0;
        for (int i = 0; i < a.size(); i++) {
            for (int r = 0; r < a.get(i).length; r++) {
                for (int j = 0; j < a.get(i)[r].length; j++) {
                    max = Math.max(max, Math.abs(a.get(i)[r][j] - b.get(i)[r][j]));
                }
            }
        }
        return max;
    }
}
