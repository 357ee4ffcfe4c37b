package io.peregrine.engine.model;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Decode and prefill on K2.5's real widths: hidden 7168, 64 heads, q_lora 1536, kv_lora 512, the real MLA head
 * dims, INT4 group-32 experts of 2048 × 7168, top-8 + 1 shared. Few layers (1 dense + 3 MoE) and 16 experts per
 * layer so it fits a small machine (2.8 GB written once to {@code $TMPDIR}); the dense layer's MLP is shrunk to the
 * expert width (in K2.5 it is 1 layer of 61) and the vocabulary to 16,384, so that per decoded token the BF16 and
 * INT4 products weigh about as they do in K2.5 (there 18 GB BF16 : 12 GB INT4; here see {@link #activeBytes}).
 * The prefill chunk is 128 tokens (a 128-token prompt costs ~0.4 TFLOP here), which gives each expert 128 · 8 / 16
 * = 64 tokens on average; K2.5's 384 experts get ~43 of a 2048-token chunk.
 *
 * <p>Wall time, interleaved with a read-bandwidth probe over the same thread count, medians over rounds:
 * {@code java -cp … io.peregrine.engine.model.K25ShapeBench [threads…]} (see docs/performance.md).
 */
public final class K25ShapeBench {
    static final SyntheticCheckpoint.Shape SHAPE =
            new SyntheticCheckpoint.Shape(16384, 7168, 4, 64, 1536, 512, 128, 64, 128, 2048, 2048, 16, 8);
    private static final int PREFILL = 128;
    private static final int DECODE = 16;
    private static final int ROUNDS = 3;
    private static final int[] PROBE = new int[128 << 20];
    private static volatile long sink;

    private K25ShapeBench() {}

    public static void main(String[] args) throws Exception {
        int[] threads = args.length == 0 ? new int[] {1, 2} : Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "peregrine-k25-shape-bench-" + Integer.toHexString(SHAPE.hashCode()));
        if (!Files.exists(dir.resolve("model.safetensors"))) {
            SyntheticCheckpoint.write(dir, SHAPE);
        }
        Bytes b = activeBytes();
        System.out.printf(Locale.ROOT, "K2.5 shapes, %d layers: per decoded token %.3f GB of weights (BF16 %.3f incl. lm_head %.3f, INT4 %.3f = %.0f%%)%n",
                SHAPE.layers(), b.total() / 1e9, b.bf16() / 1e9, b.lmHead() / 1e9, b.int4() / 1e9, 100.0 * b.int4() / b.total());
        try (Checkpoint ck = Checkpoint.open(dir)) {
            for (int t : threads) {
                run(ck, t, b);
            }
        }
    }

    private static void run(Checkpoint ck, int threads, Bytes b) {
        try (CpuBackend backend = new CpuBackend(threads)) {
            KimiTextModel model = KimiTextModel.load(ck, backend);
            int blocks = (PREFILL + DECODE * (ROUNDS + 2) + 15) / 16 + 1;
            int[] table = new int[blocks];
            Arrays.setAll(table, i -> i);
            int[] prompt = new int[PREFILL];
            Arrays.setAll(prompt, i -> 1 + (i * 7919) % (SHAPE.vocab() - 1));
            double[] prefill = new double[ROUNDS];
            double[] decode = new double[ROUNDS];
            // with one thread every product runs on this thread, so its CPU time is the work, whatever the neighbours do
            double[] prefillCpu = new double[ROUNDS];
            double[] decodeCpu = new double[ROUNDS];
            java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
            double[] probe = new double[ROUNDS];
            LatentCache cache = new LatentCache(SHAPE.layers(), blocks, 16, model.config().kvCacheWidth());
            model.forward(List.of(new SequenceSlice(Arrays.copyOf(prompt, 64), 0, table, false)), cache); // JIT warm-up
            for (int s = 0; s < DECODE; s++) {
                model.forward(List.of(new SequenceSlice(new int[] {s + 1}, 64 + s, table, false)), cache);
            }
            for (int r = 0; r < ROUNDS; r++) {
                long c0 = mx.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                model.forward(List.of(new SequenceSlice(prompt, 0, table, false)), cache);
                prefill[r] = PREFILL / ((System.nanoTime() - t0) / 1e9);
                prefillCpu[r] = PREFILL / ((mx.getCurrentThreadCpuTime() - c0) / 1e9);
                long c1 = mx.getCurrentThreadCpuTime();
                long t1 = System.nanoTime();
                for (int s = 0; s < DECODE; s++) {
                    model.forward(List.of(new SequenceSlice(new int[] {s + 1}, PREFILL + s, table, false)), cache);
                }
                decode[r] = DECODE / ((System.nanoTime() - t1) / 1e9);
                decodeCpu[r] = DECODE / ((mx.getCurrentThreadCpuTime() - c1) / 1e9);
                probe[r] = probe(threads);
            }
            double d = median(decode);
            double p = median(prefill);
            double bw = median(probe);
            System.out.printf(Locale.ROOT, "threads %d: decode %.2f tok/s (%.1f GB/s, %.0f%% of the %.1f GB/s read probe; rounds %s)"
                            + "  prefill %d tokens %.1f tok/s (%.0f GFLOP/s in products; rounds %s)%n",
                    threads, d, d * b.total() / 1e9, 100 * d * b.total() / 1e9 / bw, bw, fmt(decode), PREFILL, p,
                    p * b.prefillFlopsPerToken() / 1e9, fmt(prefill));
            if (threads == 1) {
                System.out.printf(Locale.ROOT, "  per CPU-second of the one compute thread: decode %.2f tok (%.1f GB), prefill %.1f tok (%.0f GFLOP)%n",
                        median(decodeCpu), median(decodeCpu) * b.total() / 1e9, median(prefillCpu),
                        median(prefillCpu) * b.prefillFlopsPerToken() / 1e9);
            }
        }
    }

    /** GB/s of a {@code threads}-thread sum over 512 MiB. */
    private static double probe(int threads) {
        for (int i = 0; i < 2; i++) {
            probeOnce(threads);
        }
        return probeOnce(threads);
    }

    private static double probeOnce(int threads) {
        Thread[] ts = new Thread[threads];
        long[] sums = new long[threads];
        long t0 = System.nanoTime();
        for (int k = 0; k < threads; k++) {
            int id = k;
            ts[k] = Thread.ofPlatform().start(() -> {
                int lo = (int) ((long) PROBE.length * id / threads);
                int hi = (int) ((long) PROBE.length * (id + 1) / threads);
                long s = 0;
                for (int i = lo; i < hi; i += 16) {
                    s += PROBE[i] + PROBE[i + 1] + PROBE[i + 2] + PROBE[i + 3] + PROBE[i + 4] + PROBE[i + 5] + PROBE[i + 6]
                            + PROBE[i + 7] + PROBE[i + 8] + PROBE[i + 9] + PROBE[i + 10] + PROBE[i + 11] + PROBE[i + 12]
                            + PROBE[i + 13] + PROBE[i + 14] + PROBE[i + 15];
                }
                sums[id] = s;
            });
        }
        for (Thread t : ts) {
            try {
                t.join();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
        sink += Arrays.stream(sums).sum();
        return PROBE.length * 4.0 / ((System.nanoTime() - t0) / 1e9) / 1e9;
    }

    /**
     * Weight bytes a decoded token reads, by path, and the FLOPs (multiply-add = 2) of the products per prefill
     * token (every product but {@code lm_head}, which prefill runs for the last position only).
     */
    record Bytes(long bf16, long int4, long lmHead, long prefillFlopsPerToken) {
        long total() {
            return bf16 + int4;
        }
    }

    static Bytes activeBytes() {
        SyntheticCheckpoint.Shape s = SHAPE;
        long attnParams = (long) s.qLora() * s.hidden() + (long) s.heads() * (s.nope() + s.rope()) * s.qLora()
                + (long) (s.kvLora() + s.rope()) * s.hidden() + (long) s.heads() * (s.nope() + s.vDim()) * s.kvLora()
                + (long) s.hidden() * s.heads() * s.vDim();
        long mlpParams = 3L * s.hidden() * s.moeInter();
        long denseParams = 3L * s.hidden() * s.denseInter();
        long routerParams = (long) s.experts() * s.hidden();
        long lmHeadParams = (long) s.vocab() * s.hidden();
        long moeLayers = s.layers() - 1;
        long bf16Params = s.layers() * attnParams + denseParams + moeLayers * (mlpParams + routerParams) + lmHeadParams;
        long int4Params = moeLayers * s.topK() * mlpParams;
        long int4Bytes = int4Params / 2 + int4Params / 32 * 2;
        return new Bytes(2 * bf16Params, int4Bytes, 2 * lmHeadParams, 2 * (bf16Params - lmHeadParams + int4Params));
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }

    private static String fmt(double[] v) {
        StringBuilder sb = new StringBuilder();
        for (double x : v) {
            sb.append(sb.isEmpty() ? "" : ", ").append(String.format(Locale.ROOT, "%.1f", x));
        }
        return sb.toString();
    }
}
