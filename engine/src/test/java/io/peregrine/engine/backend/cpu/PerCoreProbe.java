package io.peregrine.engine.backend.cpu;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import java.util.Random;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Per-core figures that survive a shared machine: one thread, timed in <em>thread CPU time</em> (time the OS
 * did not give us is not counted), kernel GB/s next to a one-thread read probe timed the same way, alternating
 * so both see the same memory traffic from neighbours. Each weight is cycled through enough copies to be out of
 * cache. Not JMH: JMH measures wall time, which time-slicing on a loaded two-core box swamps.
 * Run: {@code scripts/bench-kernels.sh --per-core}.
 */
public final class PerCoreProbe {
    private static final long WORKING_SET = 320L << 20;
    private static final int[] PROBE = new int[64 << 20];
    private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();
    private static volatile long sink;

    private PerCoreProbe() {}

    public static void main(String[] args) throws java.io.IOException {
        String[] shapes = {"int4:2048x7168", "int4:7168x2048", "bf16:1536x7168", "bf16:7168x8192", "bf16:16384x512"};
        System.out.printf(Locale.ROOT, "%-16s %6s %14s %14s %9s %14s%n", "weight", "tokens", "GB/s per core", "probe GB/s",
                "of probe", "GFLOP/s");
        for (int i = 0; i < 8; i++) {
            probe(); // compile the probe loop fully first; an interpreted/OSR probe reads at a third of the speed
        }
        try (CpuBackend backend = new CpuBackend(1)) {
            for (String s : shapes) {
                MatmulBench.Shape shape = MatmulBench.Shape.parse(s);
                Random rnd = new Random(1);
                int n = (int) Math.max(2, WORKING_SET / shape.bytes());
                io.peregrine.engine.backend.LinearWeight[] ws = new io.peregrine.engine.backend.LinearWeight[n];
                for (int i = 0; i < n; i++) {
                    ws[i] = shape.int4() ? backend.upload(RandomWeights.int4(rnd, shape.rows(), shape.cols()))
                            : backend.upload(RandomWeights.bf16(rnd, shape.rows(), shape.cols()));
                }
                for (int tokens : new int[] {1, 8, 64}) {
                    float[] x = RandomWeights.floats(rnd, tokens * shape.cols());
                    float[] y = new float[tokens * shape.rows()];
                    double best = 0;
                    double probeAtBest = 0;
                    for (int rep = 0; rep < 5; rep++) {
                        long c0 = MX.getCurrentThreadCpuTime();
                        int ops = tokens == 1 ? 2 * n : tokens == 8 ? n / 2 + 1 : 2;
                        for (int k = 0; k < ops; k++) {
                            backend.matmul(ws[k % n], new io.peregrine.engine.backend.HostTensor(x, 0, tokens, ws[k % n].cols(), ws[k % n].cols()),
                                    new io.peregrine.engine.backend.HostTensor(y, 0, tokens, ws[k % n].rows(), ws[k % n].rows()));
                        }
                        double kern = ops * (double) shape.bytes() / ((MX.getCurrentThreadCpuTime() - c0) / 1e9) / 1e9;
                        double probe = probe();
                        if (rep >= 1 && kern / probe > best / Math.max(probeAtBest, 1e-9) || rep == 1) {
                            best = kern;
                            probeAtBest = probe;
                        }
                    }
                    // a product is 2 · rows · cols FLOPs per token over shape.bytes() of weights
                    double gflops = best * 2.0 * shape.rows() * shape.cols() * tokens / shape.bytes();
                    System.out.printf(Locale.ROOT, "%-16s %6d %14.2f %14.2f %8.0f%% %14.1f%n", s, tokens, best, probeAtBest,
                            100 * best / probeAtBest, gflops);
                }
            }
            decodeStep(backend);
        }
    }

    /** {@link io.peregrine.engine.model.DecodeStepBench}'s model, one thread, CPU time per decode step. */
    private static void decodeStep(CpuBackend backend) throws java.io.IOException {
        try (var ck = io.peregrine.engine.checkpoint.Checkpoint.open(io.peregrine.engine.model.DecodeStepBench.checkpointDir())) {
            var model = io.peregrine.engine.model.KimiTextModel.load(ck, backend);
            var cache = new io.peregrine.engine.kv.LatentCache(model.config().numHiddenLayers(), 32, 16, model.config().kvCacheWidth());
            int[] table = new int[32];
            java.util.Arrays.setAll(table, i -> i);
            model.forward(java.util.List.of(new io.peregrine.engine.model.SequenceSlice(new int[64], 0, table, false)), cache);
            double best = Double.MAX_VALUE;
            for (int rep = 0; rep < 5; rep++) {
                long c0 = MX.getCurrentThreadCpuTime();
                for (int s = 0; s < 20; s++) {
                    model.forward(java.util.List.of(new io.peregrine.engine.model.SequenceSlice(new int[] {s}, 64 + s, table, false)), cache);
                }
                best = Math.min(best, (MX.getCurrentThreadCpuTime() - c0) / 1e6 / 20);
            }
            double gbs = io.peregrine.engine.model.DecodeStepBench.activeBytes() / (best / 1e3) / 1e9;
            double probe = probe();
            System.out.printf(Locale.ROOT, "%-16s %6d %14.2f %14.2f %8.0f%%   (%.1f ms CPU per step, %.0f MB/token)%n",
                    "decode step", 1, gbs, probe, 100 * gbs / probe, best,
                    io.peregrine.engine.model.DecodeStepBench.activeBytes() / 1e6);
        }
    }

    /** One-thread read bandwidth over 256 MiB, in GB per CPU-second. */
    private static double probe() {
        long c0 = MX.getCurrentThreadCpuTime();
        IntVector acc = IntVector.zero(VectorMath.I);
        for (int i = 0; i < PROBE.length; i += VectorMath.L) {
            acc = acc.add(IntVector.fromArray(VectorMath.I, PROBE, i));
        }
        // kept in a volatile field: with the sum unused (sink & 0) C2 may drop the whole loop and report TB/s
        sink += acc.reduceLanes(VectorOperators.ADD);
        double s = (MX.getCurrentThreadCpuTime() - c0) / 1e9;
        return PROBE.length * 4.0 / s / 1e9;
    }
}
